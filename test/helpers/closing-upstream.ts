/**
 * Misbehaving upstreams for the connection-reuse suite (issue 18), on raw sockets so the
 * timing of every close is ours:
 *
 * - `closing`: serves ONE request per connection, answers it with Content-Length and no
 *   `Connection: close`, then closes the connection a few milliseconds later. A client
 *   that reuses the connection inside that window loses its request: the upstream never
 *   handles it (nginx and undici pools see "other side closed" or a reset).
 * - `reset-after-read`: reads the whole request (head and Content-Length body), counts it
 *   as handled, then resets without answering: the request provably reached it.
 * - `reset-mid-upload`: answers the first request of a connection normally (so the next
 *   one reuses it); on a later request it reads part of the body, then resets.
 *
 * Every request carries an `x-req` header; `handled` counts, per `x-req`, how many times
 * the upstream processed that request (read it completely and acted on it).
 */
import { createServer, type Server, type Socket } from 'node:net';

export type UpstreamMode = 'closing' | 'reset-after-read' | 'reset-mid-upload';

export interface ClosingUpstream {
  readonly port: number;
  /** x-req → times handled. */
  readonly handled: Map<string, number>;
  /** Connections accepted. */
  connections: number;
  /** Bytes of request bodies received (all connections). */
  bodyBytes: number;
  /** The last complete request head received, latin1. */
  lastHead: string;
  close(): Promise<void>;
}

interface Parsed {
  readonly head: string;
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly bodyLength: number;
}

function parseHead(head: string): Parsed {
  const lines = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  return { head, method: lines[0]!.split(' ')[0]!, headers, bodyLength: Number(headers['content-length'] ?? 0) };
}

/** Start a misbehaving upstream on 127.0.0.1:0. `closeAfterMs` is the `closing` window. */
export async function startClosingUpstream(mode: UpstreamMode, closeAfterMs = 5): Promise<ClosingUpstream> {
  const sockets = new Set<Socket>();
  const state: ClosingUpstream = {
    port: 0,
    handled: new Map(),
    connections: 0,
    bodyBytes: 0,
    lastHead: '',
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
  const count = (p: Parsed): void => {
    const id = p.headers['x-req'] ?? '?';
    state.handled.set(id, (state.handled.get(id) ?? 0) + 1);
  };
  const server: Server = createServer((s) => {
    state.connections += 1;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    let served = 0;
    let current: Parsed | null = null;
    let done = false;
    s.on('data', (c: Buffer) => {
      if (done) return;
      buf = Buffer.concat([buf, c]);
      for (;;) {
        if (current === null) {
          const end = buf.indexOf('\r\n\r\n');
          if (end < 0) return;
          current = parseHead(buf.subarray(0, end).toString('latin1'));
          state.lastHead = current.head;
          buf = buf.subarray(end + 4);
        }
        const p: Parsed = current;
        if (mode === 'reset-mid-upload' && served > 0) {
          state.bodyBytes += buf.length;
          buf = Buffer.alloc(0);
          if (state.bodyBytes > 256 * 1024) {
            done = true;
            s.resetAndDestroy();
          }
          return;
        }
        if (buf.length < p.bodyLength) return;
        state.bodyBytes += p.bodyLength;
        buf = buf.subarray(p.bodyLength);
        current = null;
        if (mode === 'reset-after-read') {
          count(p);
          done = true;
          s.resetAndDestroy();
          return;
        }
        if (mode === 'closing' && served > 0) {
          // A second request on a connection this upstream is about to close: never handled.
          done = true;
          return;
        }
        count(p);
        served += 1;
        const body = JSON.stringify({ ok: true, req: p.headers['x-req'] ?? null, n: served });
        s.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
        if (mode === 'closing') setTimeout(() => s.destroy(), closeAfterMs);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  (state as { port: number }).port = (server.address() as { port: number }).port;
  return state;
}
