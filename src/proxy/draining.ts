/**
 * Graceful drain: optionally keep serving for a delay while readiness reports the
 * shutdown (so endpoints and load balancers stop sending first), then stop accepting,
 * let in-flight requests and streams finish up to a deadline, and destroy what is left.
 * Tunnels and upgraded sockets are not tracked by `server.close()`, so they are
 * registered here explicitly.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

export class Draining {
  #active = false;
  #stopping = false;
  readonly #servers = new Set<Server>();
  readonly #sockets = new Set<Socket>();

  /** New requests are refused (the drain proper has begun). */
  get active(): boolean {
    return this.#active;
  }

  /** Shutdown has begun: readiness must fail, even while the drain delay still serves requests. */
  get stopping(): boolean {
    return this.#stopping || this.#active;
  }

  /**
   * The drain delay (`limits.drain_delay`): mark the shutdown for readiness but keep
   * serving for `ms`. Without a preStop hook, Kubernetes removes a terminating pod from
   * Service endpoints while it already has SIGTERM; refusing at once would fail the
   * requests still routed to it.
   */
  async delay(ms: number): Promise<void> {
    this.#stopping = true;
    if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
  }

  track(server: Server): void {
    this.#servers.add(server);
  }

  /** Forget a server closed on its own (an agent's dedicated listener dropped on reload). */
  untrack(server: Server): void {
    this.#servers.delete(server);
  }

  /** Register a hijacked socket (CONNECT tunnel, WebSocket) so the drain can end it. */
  trackSocket(socket: Socket): void {
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
  }

  get openSockets(): number {
    return this.#sockets.size;
  }

  /** Resolves when every server has closed, or at the deadline after destroying what remains. */
  async drain(deadlineMs: number): Promise<void> {
    this.#active = true;
    const closes = [...this.#servers].map(
      (s) =>
        new Promise<void>((resolve) => {
          s.close(() => resolve());
          // Idle keep-alive sockets would hold close() open until they time out.
          s.closeIdleConnections();
        }),
    );
    const tunnelsDone = new Promise<void>((resolve) => {
      const check = (): void => {
        if (this.#sockets.size === 0) resolve();
        else setTimeout(check, 50).unref();
      };
      check();
    });
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'deadline'>((resolve) => {
      timer = setTimeout(() => resolve('deadline'), deadlineMs);
    });
    // Keep closing sockets that become idle after their last response.
    const sweeper = setInterval(() => {
      for (const s of this.#servers) s.closeIdleConnections();
    }, 100);
    const result = await Promise.race([Promise.all([...closes, tunnelsDone]).then(() => 'done' as const), deadline]);
    clearInterval(sweeper);
    clearTimeout(timer);
    if (result === 'deadline') {
      for (const s of this.#servers) s.closeAllConnections();
      for (const sock of this.#sockets) sock.destroy();
      await Promise.all(closes);
    }
  }
}
