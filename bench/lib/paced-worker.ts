/**
 * Latency at a fixed offered rate, below every contender's capacity: what one hop adds
 * to a request, rather than how long requests queue when the proxy is saturated (in a
 * closed loop at 32 connections, latency is just connections / throughput).
 *
 * `connections` raw keep-alive sockets share `rate` requests per second; each sends on
 * a fixed schedule. A request delayed by a slow answer before it is measured from its
 * scheduled time, so a stall counts against every request it held up (no coordinated
 * omission); one sent on time is measured from when it was written.
 * Responses must carry Content-Length (the small-JSON workload does). Runs in its own
 * process, pinned with the generator, and prints one `BENCH_RESULT {json}` line
 * (microseconds).
 * Usage: node --import tsx bench/lib/paced-worker.ts '<json PacedSpec>'
 */
import net from 'node:net';

interface PacedSpec {
  readonly port: number;
  readonly path: string;
  readonly host: string;
  readonly headers: Record<string, string>;
  readonly connections: number;
  readonly rate: number;
  readonly durationS: number;
}

const spec = JSON.parse(process.argv[2] ?? '{}') as PacedSpec;
const extra = Object.entries(spec.headers)
  .map(([k, v]) => `${k}: ${v}\r\n`)
  .join('');
const REQUEST = `GET ${spec.path} HTTP/1.1\r\nHost: ${spec.host}\r\n${extra}\r\n`;
const periodNs = BigInt(Math.round((1e9 * spec.connections) / spec.rate));
const t0 = process.hrtime.bigint() + 50_000_000n;
const endAt = t0 + BigInt(Math.round(spec.durationS * 1e9));
const latUs: number[] = [];
let errors = 0;
let badStatus = 0;

function conn(index: number): Promise<void> {
  return new Promise((resolve) => {
    // Stagger the connections across one period so that the offered load is even.
    let k = 0;
    const scheduled = (): bigint => t0 + (periodNs * BigInt(index)) / BigInt(spec.connections) + periodNs * BigInt(k);
    let buf = '';
    let inFlight = false;
    let done = false;
    let reconnects = 0;
    let timer: NodeJS.Timeout | undefined;
    let sock: net.Socket;
    const finish = (): void => {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      sock.destroy();
      resolve();
    };
    // Latency runs from the scheduled time when the request is late because the previous
    // answer was (coordinated omission), and from the actual send time otherwise, so that
    // this client's own timer slack is not charged to the proxy.
    let startedAt = 0n;
    const sendWhenDue = (fromTimer = false): void => {
      if (timer) clearTimeout(timer);
      timer = undefined;
      const at = scheduled();
      if (at >= endAt) return finish();
      const now = process.hrtime.bigint();
      if (now < at) {
        timer = setTimeout(() => sendWhenDue(true), Math.max(1, Math.ceil(Number(at - now) / 1e6)));
        return;
      }
      startedAt = fromTimer ? now : at;
      inFlight = true;
      sock.write(REQUEST);
    };
    const open = (): void => {
      buf = '';
      sock = net.connect({ host: '127.0.0.1', port: spec.port });
      sock.setNoDelay(true);
      sock.on('connect', () => (inFlight ? sock.write(REQUEST) : sendWhenDue(true)));
      sock.on('error', () => undefined);
      sock.on('close', () => {
        if (done) return;
        // Proxies that do not keep client connections alive (tinyproxy) close after
        // each answer: reconnect, and resend a request that was in flight.
        reconnects += 1;
        if (reconnects > 100_000 || process.hrtime.bigint() >= endAt) {
          if (inFlight) errors += 1;
          return finish();
        }
        open();
      });
      sock.on('data', onData);
    };
    const onData = (d: Buffer): void => {
      buf += d.toString('latin1');
      for (;;) {
        const headEnd = buf.indexOf('\r\n\r\n');
        if (headEnd === -1) return;
        const len = Number(/\r\ncontent-length:\s*(\d+)/i.exec(buf.slice(0, headEnd + 2))?.[1] ?? NaN);
        if (!Number.isFinite(len)) {
          errors += 1;
          return finish();
        }
        if (buf.length < headEnd + 4 + len) return;
        if (!buf.startsWith('HTTP/1.1 2')) badStatus += 1;
        buf = buf.slice(headEnd + 4 + len);
        latUs.push(Number(process.hrtime.bigint() - startedAt) / 1000);
        inFlight = false;
        k += 1;
        sendWhenDue();
      }
    };
    open();
  });
}

await Promise.all(Array.from({ length: spec.connections }, (_, i) => conn(i)));
latUs.sort((a, b) => a - b);
const pct = (p: number): number => latUs[Math.min(latUs.length - 1, Math.max(0, Math.ceil((p / 100) * latUs.length) - 1))] ?? 0;
const out = {
  requests: latUs.length,
  duration_us: Math.round(spec.durationS * 1e6),
  status: badStatus,
  errors,
  read: 0,
  timeout: 0,
  mean_us: latUs.length ? latUs.reduce((a, b) => a + b, 0) / latUs.length : 0,
  p50_us: Math.round(pct(50)),
  p90_us: Math.round(pct(90)),
  p99_us: Math.round(pct(99)),
  max_us: Math.round(latUs[latUs.length - 1] ?? 0),
};
process.stdout.write(`BENCH_RESULT ${JSON.stringify(out)}\n`);
process.exit(0);
