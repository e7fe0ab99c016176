/**
 * Splice two byte streams together (CONNECT byte tunnels, WebSocket upgrades).
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

const noop = (): void => undefined;

/**
 * Bytes both ways, untouched; `head` (bytes that arrived with the request) goes first.
 * Half-closes pass through; silence for `idleMs` in either direction, or an error,
 * closes both. `countOut` sees every chunk sent to the client.
 */
export function splice(client: Socket, upstream: Duplex, head: Buffer, idleMs: number, countOut?: (n: number) => void): void {
  upstream.on('error', noop);
  if (head.length > 0) upstream.write(head);
  if (countOut !== undefined) upstream.on('data', (c: Buffer) => countOut(c.length));
  client.pipe(upstream);
  upstream.pipe(client);
  const idle = (): void => {
    client.destroy();
    upstream.destroy();
  };
  client.setTimeout(idleMs, idle);
  (upstream as Partial<Socket>).setTimeout?.(idleMs, idle);
  upstream.once('close', () => {
    client.end(); // flush what the upstream sent, then close
    client.destroySoon();
  });
  client.once('close', () => upstream.destroy());
}
