/**
 * `limits.body_idle_timeout` (I15): a request whose body stops arriving is ended, apart
 * from `request_timeout` (which stays off by default, so long uploads and streams live).
 * A slow-body client could otherwise hold a connection, an upstream request and a
 * stream slot for as long as it likes, one byte at a time or none at all.
 *
 * Progress is read from the socket's byte counter on a coarse timer instead of from
 * 'data' events: a listener on the request would switch it into flowing mode before
 * the stage that forwards it is ready, and the body would be lost. Silence counts only
 * while the sidecar is waiting for the agent: not before any stage has started reading
 * the body (the vault may still be answering), and not while bytes already received sit
 * unread (the upstream is slow, not the agent).
 */
import type { IncomingMessage } from 'node:http';

/** Watch `req`'s body; `onIdle` runs once if it is silent for `idleMs` while being read. Returns a stop function. */
export function watchBodyIdle(req: IncomingMessage, idleMs: number, onIdle: () => void): () => void {
  const socket = req.socket;
  let last = socket.bytesRead;
  let quietSince = performance.now();
  const stop = (): void => clearInterval(timer);
  const timer = setInterval(
    () => {
      if (req.complete || req.destroyed || socket.destroyed) return stop();
      const read = socket.bytesRead;
      const now = performance.now();
      if (read !== last || req.readableLength > 0 || req.readableFlowing === null) {
        last = read;
        quietSince = now;
        return;
      }
      if (now - quietSince >= idleMs) {
        stop();
        onIdle();
      }
    },
    Math.max(10, Math.min(1000, Math.floor(idleMs / 4))),
  );
  timer.unref();
  return stop;
}
