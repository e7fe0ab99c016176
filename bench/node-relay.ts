/**
 * A reference contender, not a product: the leanest credential-injecting forward proxy
 * one can write on `node:http` + undici `dispatch`, with none of the sidecar's work
 * (no target grammar, matching, header policy, vault, metrics or log line). It takes
 * absolute-form requests, sends them to one upstream over a keep-alive Pool with a
 * static `Authorization: Bearer` header, and relays the answer with back-pressure, as
 * `src/proxy/forward.ts` does. Its CPU per request is the floor that the sidecar's own
 * code sits on; the gap between the two is what the sidecar's logic costs.
 *
 * Usage: BENCH_UPSTREAM=http://127.0.0.1:P BENCH_TOKEN=t node --import tsx bench/node-relay.ts
 * (prints `LISTENING <port>`).
 */
import http from 'node:http';
import { Pool, type Dispatcher } from 'undici';

const upstream = process.env.BENCH_UPSTREAM ?? 'http://127.0.0.1:1';
const auth = `Bearer ${process.env.BENCH_TOKEN ?? 'bench-token'}`;
const pool = new Pool(upstream, { connections: 64, keepAliveTimeout: 60_000 });
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'upgrade', 'host', 'authorization']);

class Relay {
  private resume: (() => void) | null = null;
  constructor(private readonly res: http.ServerResponse) {}
  onConnect(): void {}
  onHeaders(status: number, raw: Buffer[], resume: () => void): boolean {
    const out: string[] = [];
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!.toString('latin1');
      if (!HOP.has(name.toLowerCase())) out.push(name, raw[i + 1]!.toString('latin1'));
    }
    this.res.writeHead(status, out);
    this.resume = resume;
    return true;
  }
  onData(chunk: Buffer): boolean {
    if (this.res.write(chunk)) return true;
    this.res.once('drain', () => this.resume?.());
    return false;
  }
  onComplete(): void {
    this.res.end();
  }
  onError(): void {
    if (!this.res.headersSent) this.res.writeHead(502, { 'content-length': '0' });
    this.res.destroy();
  }
}

const server = http.createServer({ keepAliveTimeout: 120_000 }, (req, res) => {
  const url = req.url ?? '/';
  const slash = url.indexOf('/', url.indexOf('://') + 3);
  const path = slash === -1 ? '/' : url.slice(slash);
  const headers: string[] = [];
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    if (!HOP.has(raw[i]!.toLowerCase())) headers.push(raw[i]!, raw[i + 1]!);
  }
  headers.push('authorization', auth);
  const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
  pool.dispatch(
    { path, method: req.method as Dispatcher.HttpMethod, headers, body: hasBody ? req : null },
    new Relay(res) as unknown as Dispatcher.DispatchHandler,
  );
});
server.listen(0, '127.0.0.1', () => {
  const a = server.address();
  process.stdout.write(`LISTENING ${a && typeof a === 'object' ? a.port : 0}\n`);
});
const stop = (): void => {
  server.closeAllConnections();
  server.close();
  void pool.close();
  setTimeout(() => process.exit(0), 200).unref();
};
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.resume();
