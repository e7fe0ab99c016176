/**
 * Binding a server: the one home for `listen()` (proxy listener, agents' dedicated
 * listeners, the admin listener). A bind failure (EADDRINUSE, EACCES) rejects the
 * promise instead of surfacing later as an unhandled 'error' event.
 */
import type { Server } from 'node:net';

/** Listen on host:port; rejects with the bind error instead of throwing later. */
export function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
