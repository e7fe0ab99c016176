/**
 * A misbehaving keep-alive upstream for the connection-reuse suite (issue 18), on raw
 * sockets (optionally TLS) so the timing of every close is the test's. A `policy`
 * decides, per request, from its connection number and its index on that connection:
 *
 * - `answer`: handle it and answer 200 (Content-Length, no `Connection: close`);
 * - `answer-then-close`: the same, then close the connection `closeAfterMs` later;
 *   requests arriving on it meanwhile are never handled (`ignore`). This is the upstream
 *   of the issue: it closes without saying so, and a pool that reuses the connection
 *   inside that window loses its request;
 * - `answer-then-half-close`: answer, then half-close (FIN) `closeAfterMs` later;
 * - `ignore`: read it, never handle it, leave the connection to a pending close;
 * - `drop`: read it, never handle it, close the connection at once (the upstream had
 *   already given the connection up); `drop-at-head`: the same as soon as its head arrived;
 * - `read-reset`: read it whole, handle it (it reached the upstream), reset without answering;
 * - `reset-mid-body`: read 256 KiB of its body, then reset (not handled).
 *
 * Every request carries an `x-req` header; `handled` counts, per `x-req`, how many times
 * the upstream processed that request. With `reflect` set, answers echo the request's
 * Authorization header (a reflecting upstream, for the response guard).
 */
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';

export type Action = 'answer' | 'answer-then-close' | 'answer-then-half-close' | 'ignore' | 'drop' | 'drop-at-head' | 'read-reset' | 'reset-mid-body';

export interface SeenRequest {
  /** 1-based connection number. */
  readonly conn: number;
  /** 0-based index of the request on its connection. */
  readonly index: number;
  readonly method: string;
  readonly headers: Readonly<Record<string, string>>;
  /** The body, latin1, once read whole (null for `reset-mid-body`). */
  body: string | null;
}

export type Policy = (r: SeenRequest) => Action;

/** The upstream: answer the first request of a connection, close it a few ms later. */
export const closesAfterAnswer: Policy = (r) => (r.index === 0 ? 'answer-then-close' : 'ignore');

export interface ClosingUpstream {
  readonly port: number;
  policy: Policy;
  /** Sent with every answer when set, e.g. `timeout=1`. */
  keepAliveHint: string | null;
  /** Echo the request's Authorization header in the answer body. */
  reflect: boolean;
  /** x-req → times handled. */
  readonly handled: Map<string, number>;
  /** Every request head seen, in order. */
  readonly seen: SeenRequest[];
  /** Connections accepted. */
  connections: number;
  /** Connections still open. */
  open: number;
  /** Request body bytes received. */
  bodyBytes: number;
  /** How many x-req values were handled more than once. */
  duplicates(): number;
  close(): Promise<void>;
}

export interface ClosingUpstreamOptions {
  readonly policy?: Policy;
  /** The close window of `answer-then-close` (default 20 ms). */
  readonly closeAfterMs?: number;
  /** Serve TLS with this key and certificate. */
  readonly tls?: { key: string; cert: string };
}

function parseHead(head: string): { method: string; headers: Record<string, string> } {
  const lines = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  return { method: lines[0]!.split(' ')[0]!, headers };
}

const MID_BODY = 256 * 1024;

export async function startClosingUpstream(opts: ClosingUpstreamOptions = {}): Promise<ClosingUpstream> {
  const sockets = new Set<Socket>();
  const closeAfterMs = opts.closeAfterMs ?? 20;
  const state: ClosingUpstream = {
    port: 0,
    policy: opts.policy ?? closesAfterAnswer,
    keepAliveHint: null,
    reflect: false,
    handled: new Map(),
    seen: [],
    connections: 0,
    open: 0,
    bodyBytes: 0,
    duplicates: () => [...state.handled.values()].filter((n) => n > 1).length,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
  const count = (r: SeenRequest): void => {
    const id = r.headers['x-req'] ?? '?';
    state.handled.set(id, (state.handled.get(id) ?? 0) + 1);
  };
  const reset = (s: Socket): void => {
    // TLS sockets have no RST of their own; destroy closes the TCP connection under them.
    if (opts.tls === undefined) s.resetAndDestroy();
    else s.destroy();
  };
  const onConnection = (s: Socket): void => {
    const conn = ++state.connections;
    state.open += 1;
    sockets.add(s);
    s.on('close', () => {
      sockets.delete(s);
      state.open -= 1;
    });
    s.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    let index = 0;
    let current: { req: SeenRequest; action: Action; length: number } | null = null;
    let done = false;
    s.on('data', (c: Buffer) => {
      if (done) return;
      buf = Buffer.concat([buf, c]);
      for (;;) {
        if (current === null) {
          const end = buf.indexOf('\r\n\r\n');
          if (end < 0) return;
          const { method, headers } = parseHead(buf.subarray(0, end).toString('latin1'));
          const req: SeenRequest = { conn, index: index++, method, headers, body: null };
          state.seen.push(req);
          current = { req, action: state.policy(req), length: Number(headers['content-length'] ?? 0) };
          buf = buf.subarray(end + 4);
        }
        const { req, action, length } = current;
        if (action === 'drop-at-head') {
          done = true;
          s.destroy();
          return;
        }
        if (action === 'reset-mid-body') {
          state.bodyBytes += buf.length;
          buf = Buffer.alloc(0);
          if (state.bodyBytes >= MID_BODY) {
            done = true;
            reset(s);
          }
          return;
        }
        if (buf.length < length) return;
        state.bodyBytes += length;
        req.body = buf.subarray(0, length).toString('latin1');
        buf = buf.subarray(length);
        current = null;
        switch (action) {
          case 'ignore':
            done = true;
            return;
          case 'drop':
            done = true;
            s.destroy();
            return;
          case 'read-reset':
            count(req);
            done = true;
            reset(s);
            return;
          default: {
            count(req);
            const body = JSON.stringify({
              ok: true,
              req: req.headers['x-req'] ?? null,
              conn,
              index: req.index,
              ...(state.reflect ? { authorization: req.headers.authorization ?? null } : {}),
            });
            const hint = state.keepAliveHint === null ? '' : `Keep-Alive: ${state.keepAliveHint}\r\n`;
            s.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n${hint}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
            if (action === 'answer-then-close') setTimeout(() => s.destroy(), closeAfterMs);
            if (action === 'answer-then-half-close') setTimeout(() => s.end(), closeAfterMs);
          }
        }
      }
    });
  };
  const server: Server = opts.tls === undefined ? createNetServer(onConnection) : createTlsServer(opts.tls, onConnection);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  (state as { port: number }).port = (server.address() as { port: number }).port;
  return state;
}
