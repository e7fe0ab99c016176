/**
 * Shared pieces for the vault integration tests: a scripted vault (answers the
 * handshake, hands every other request to the test), a raw framed connection for
 * poking the dev vault, a client factory, and a small HTTP upstream for http_request.
 */
import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { encodeFrame, FrameDecoder } from '../../../src/vault/framing.js';
import { VaultClient, type VaultClientEvent, type VaultClientOptions, type VaultEndpoint } from '../../../src/vault/client.js';

export interface WireRequest {
  id: number;
  method: string;
  params: Record<string, unknown>;
}

export interface ScriptedServer {
  endpoint: { host: string; port: number };
  /** Every non-handshake request, in arrival order. */
  requests: WireRequest[];
  sockets: Set<Socket>;
  handshakes: number;
  close(): Promise<void>;
}

export type Reply = (answer: Record<string, unknown>) => void;

/**
 * A vault that authenticates anyone (session ids s1, s2, ...) and passes every other
 * request (every request, with `manualAuth`) to `onRequest`, which answers with `reply({result})`/`reply({error})` or
 * writes to the socket itself.
 */
export async function startScriptedServer(
  onRequest: (req: WireRequest, reply: Reply, socket: Socket) => void,
  opts: { port?: number; manualAuth?: boolean } = {},
): Promise<ScriptedServer> {
  const sockets = new Set<Socket>();
  const state: ScriptedServer = {
    endpoint: { host: '127.0.0.1', port: 0 },
    requests: [],
    sockets,
    handshakes: 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const decoder = new FrameDecoder();
    socket.on('data', (chunk: Buffer) => {
      let msgs: unknown[];
      try {
        msgs = decoder.push(chunk);
      } catch {
        socket.destroy();
        return;
      }
      for (const raw of msgs) {
        const req = raw as WireRequest;
        const reply: Reply = (answer) => {
          if (!socket.destroyed) socket.write(encodeFrame({ id: req.id, ...answer }));
        };
        if (opts.manualAuth) {
          if (req.method === 'authenticate') state.handshakes++;
          state.requests.push(req);
          onRequest(req, reply, socket);
        } else if (req.method === 'authenticate') {
          state.handshakes++;
          reply({ result: { session_id: `s${state.handshakes}`, challenge: randomBytes(32).toString('hex') } });
        } else if (req.method === 'challenge_response') reply({ result: { authenticated: true } });
        else {
          state.requests.push(req);
          onRequest(req, reply, socket);
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, '127.0.0.1', () => resolve()));
  const a = server.address();
  if (a !== null && typeof a === 'object') state.endpoint = { host: '127.0.0.1', port: a.port };
  return state;
}

/** A client with test-friendly defaults; `events` collects everything it emits. */
export function makeClient(
  endpoint: VaultEndpoint,
  opts: Partial<VaultClientOptions> & { seed?: Uint8Array; agent?: string } = {},
): { client: VaultClient; events: VaultClientEvent[] } {
  const events: VaultClientEvent[] = [];
  const client = new VaultClient({
    endpoint,
    agent: opts.agent ?? 'test-agent',
    seed: opts.seed ?? new Uint8Array(randomBytes(32)),
    callTimeoutMs: opts.callTimeoutMs ?? 5000,
    connectTimeoutMs: opts.connectTimeoutMs ?? 2000,
    backoff: opts.backoff ?? { initialMs: 10, maxMs: 50 },
    onEvent: (e) => {
      events.push(e);
      opts.onEvent?.(e);
    },
  });
  return { client, events };
}

/** A raw framed connection, for speaking to the dev vault by hand. */
export interface RawConnection {
  send(msg: unknown): void;
  sendBytes(b: Buffer): void;
  /** The next decoded message. */
  next(): Promise<Record<string, unknown>>;
  /** Send a request and wait for its answer. */
  call(id: number, method: string, params: Record<string, unknown>): Promise<Record<string, unknown>>;
  closed: Promise<void>;
  close(): Promise<void>;
}

export async function openRaw(endpoint: VaultEndpoint): Promise<RawConnection> {
  const socket = 'socket' in endpoint ? connect({ path: endpoint.socket }) : connect({ host: endpoint.host, port: endpoint.port });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.on('error', () => undefined);
  const decoder = new FrameDecoder();
  const queue: Record<string, unknown>[] = [];
  const waiting: ((m: Record<string, unknown>) => void)[] = [];
  socket.on('data', (chunk: Buffer) => {
    for (const m of decoder.push(chunk)) {
      const w = waiting.shift();
      if (w) w(m as Record<string, unknown>);
      else queue.push(m as Record<string, unknown>);
    }
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const next = (): Promise<Record<string, unknown>> => {
    const m = queue.shift();
    return m ? Promise.resolve(m) : new Promise((resolve) => waiting.push(resolve));
  };
  return {
    send: (msg) => socket.write(encodeFrame(msg)),
    sendBytes: (b) => socket.write(b),
    next,
    call: (id, method, params) => {
      socket.write(encodeFrame({ id, method, params }));
      return next();
    },
    closed,
    close: async () => {
      socket.destroy();
      await closed;
    },
  };
}

/** An HTTP upstream on 127.0.0.1:0 that records requests; `handler` may answer itself. */
export async function startUpstream(
  handler?: (req: IncomingMessage, res: ServerResponse, body: string) => void,
): Promise<{ origin: string; port: number; seen: { method: string; url: string; headers: IncomingMessage['headers']; body: string }[]; close(): Promise<void> }> {
  const seen: { method: string; url: string; headers: IncomingMessage['headers']; body: string }[] = [];
  const server = createHttpServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      if (handler) return handler(req, res, body);
      res.writeHead(200, { 'content-type': 'text/plain', 'x-upstream': 'yes' });
      res.end(`echo ${req.method} ${req.url} ${body}`);
    });
  });
  server.keepAliveTimeout = 100;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as { port: number }).port;
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Resolve with the error a promise rejects with (fails the test if it resolves). */
export async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

/** Sockets and timers currently keeping the loop alive, by type. */
export function liveHandles(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) {
    if (r === 'TCPSocketWrap' || r === 'PipeWrap' || r === 'Timeout' || r === 'TCPServerWrap' || r === 'PipeServerWrap') counts[r] = (counts[r] ?? 0) + 1;
  }
  return counts;
}

/** Wait until the client's state has `status` (polling; the test's own timeout bounds it). */
export async function untilStatus(client: { state: { status: string } }, status: string): Promise<void> {
  while (client.state.status !== status) await new Promise((r) => setTimeout(r, 2));
}
