/**
 * Closed-loop HTTP load against one contender: wrk when installed (C, cheapest on the
 * shared generator CPU), otherwise autocannon in a separate pinned node process.
 * Both report through one `BENCH_RESULT {json}` line, so their figures share units.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Processes, type Spawned, which } from './proc.js';

export type Generator = 'wrk' | 'autocannon';

/** Where the requests go: always 127.0.0.1, the path may be absolute-form for a forward proxy. */
export interface LoadTarget {
  readonly port: number;
  /** Origin-form `/json` or absolute-form `http://host/json`. */
  readonly path: string;
  /** Host header to send (defaults to 127.0.0.1:port). */
  readonly host?: string | undefined;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface LoadResult {
  readonly requests: number;
  readonly seconds: number;
  readonly rps: number;
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Non-2xx/3xx responses. */
  readonly badStatus: number;
  /** Connect and write errors and timeouts. */
  readonly errors: number;
  /**
   * Read errors: with wrk these are mostly the proxy closing a kept-alive connection
   * after a response (tinyproxy does), which costs a reconnect but loses no request.
   */
  readonly readErrors: number;
}

const WRK_SCRIPT = `-- written by bench/lib/load.ts
local path = os.getenv("BENCH_PATH") or "/"
local host = os.getenv("BENCH_HOST")
local auth = os.getenv("BENCH_AUTH")
wrk.method = "GET"
wrk.path = path
if host and host ~= "" then wrk.headers["Host"] = host end
if auth and auth ~= "" then wrk.headers["Authorization"] = auth end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('BENCH_RESULT {"requests":%d,"duration_us":%d,"status":%d,"errors":%d,"read":%d,"timeout":%d,' ..
    '"mean_us":%.1f,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\\n',
    summary.requests, summary.duration, e.status, e.connect + e.write, e.read, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
`;

export interface LoadOptions {
  readonly generator: Generator;
  readonly connections: number;
  readonly cpu: number | undefined;
  readonly tmpDir: string;
}

/** Picks wrk when it is installed, unless told otherwise. */
export function pickGenerator(requested: string | undefined): Generator {
  if (requested === 'autocannon') return 'autocannon';
  if (requested === 'wrk') {
    if (!which('wrk')) throw new Error('--gen wrk: wrk is not installed (apt-get install -y wrk)');
    return 'wrk';
  }
  return which('wrk') ? 'wrk' : 'autocannon';
}

let counter = 0;

/** Runs one measurement of `durationS` seconds; resolves with its figures. */
export async function runLoad(
  procs: Processes,
  target: LoadTarget,
  durationS: number,
  opts: LoadOptions,
): Promise<LoadResult> {
  counter += 1;
  const name = `load-${counter}`;
  const host = target.host ?? `127.0.0.1:${target.port}`;
  const auth = target.headers?.authorization;
  let child;
  if (opts.generator === 'wrk') {
    const script = join(opts.tmpDir, 'bench.lua');
    writeFileSync(script, WRK_SCRIPT);
    const secs = Math.max(1, Math.round(durationS));
    child = procs.spawn(
      name,
      which('wrk') ?? 'wrk',
      ['-t1', `-c${opts.connections}`, `-d${secs}s`, '--timeout', '5s', '-s', script, `http://127.0.0.1:${target.port}`],
      {
        cpu: opts.cpu,
        env: { ...process.env, BENCH_PATH: target.path, BENCH_HOST: host, BENCH_AUTH: auth ?? '' },
      },
    );
  } else {
    const worker = fileURLToPath(new URL('./autocannon-worker.ts', import.meta.url));
    const spec = {
      url: `http://127.0.0.1:${target.port}`,
      path: target.path,
      headers: { host, ...(target.headers ?? {}) },
      connections: opts.connections,
      durationS: Math.max(1, Math.round(durationS)),
    };
    child = procs.spawn(name, process.execPath, ['--import', 'tsx', worker, JSON.stringify(spec)], { cpu: opts.cpu });
  }
  return collect(procs, child, durationS);
}

/**
 * Latency at a fixed offered `rate` (requests per second over `connections`), measured
 * from each request's scheduled send time by bench/lib/paced-worker.ts.
 */
export async function runPaced(
  procs: Processes,
  target: LoadTarget,
  durationS: number,
  opts: { connections: number; rate: number; cpu: number | undefined },
): Promise<LoadResult> {
  counter += 1;
  const worker = fileURLToPath(new URL('./paced-worker.ts', import.meta.url));
  const spec = {
    port: target.port,
    path: target.path,
    host: target.host ?? `127.0.0.1:${target.port}`,
    headers: target.headers ?? {},
    connections: opts.connections,
    rate: opts.rate,
    durationS,
  };
  const child = procs.spawn(`paced-${counter}`, process.execPath, ['--import', 'tsx', worker, JSON.stringify(spec)], {
    cpu: opts.cpu,
  });
  return collect(procs, child, durationS);
}

async function collect(procs: Processes, child: Spawned, durationS: number): Promise<LoadResult> {
  const m = await child.waitFor(/BENCH_RESULT (\{.*\})/, (durationS + 20) * 1000).catch(async (err: unknown) => {
    await procs.stop(child);
    throw err;
  });
  await procs.stop(child);
  const r = JSON.parse(m[1] ?? '{}') as Record<string, number>;
  const seconds = (r.duration_us ?? 0) / 1e6;
  const requests = r.requests ?? 0;
  return {
    requests,
    seconds,
    rps: seconds > 0 ? requests / seconds : 0,
    meanMs: (r.mean_us ?? 0) / 1000,
    p50Ms: (r.p50_us ?? 0) / 1000,
    p90Ms: (r.p90_us ?? 0) / 1000,
    p99Ms: (r.p99_us ?? 0) / 1000,
    maxMs: (r.max_us ?? 0) / 1000,
    badStatus: r.status ?? 0,
    errors: (r.errors ?? 0) + (r.timeout ?? 0),
    readErrors: r.read ?? 0,
  };
}
