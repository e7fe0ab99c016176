/**
 * Runs one autocannon measurement in its own process (so that it can be pinned to the
 * generator's CPU) and prints one `BENCH_RESULT {json}` line in the same units as the
 * wrk script: microseconds for latency.
 * Usage: node --import tsx bench/lib/autocannon-worker.ts '<json LoadSpec>'
 */
import autocannon from 'autocannon';

interface Spec {
  readonly url: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly connections: number;
  readonly durationS: number;
}

const spec = JSON.parse(process.argv[2] ?? '{}') as Spec;
const r = await autocannon({
  url: spec.url,
  connections: spec.connections,
  duration: spec.durationS,
  timeout: 5,
  requests: [{ method: 'GET', path: spec.path, headers: spec.headers }],
});
const us = (ms: number): number => Math.round(ms * 1000);
const out = {
  requests: r.requests.total,
  duration_us: Math.round(r.duration * 1e6),
  status: r.non2xx,
  errors: Math.max(0, r.errors - r.timeouts), // autocannon counts timeouts among errors
  timeout: r.timeouts,
  read: 0,
  mean_us: us(r.latency.average),
  p50_us: us(r.latency.p50),
  p90_us: us(r.latency.p90),
  p99_us: us(r.latency.p99),
  max_us: us(r.latency.max),
};
process.stdout.write(`BENCH_RESULT ${JSON.stringify(out)}\n`);
