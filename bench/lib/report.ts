/**
 * The benchmark's results: their shape (also the JSON written to bench/results/),
 * the printed tables with ratios against direct and cache-hit, and the targets (issues
 * 7 and 13) judged PASS, FAIL or SKIP from figures of the same run.
 */
import type { LoadResult } from './load.js';
import type { SseResult } from './sse.js';
import type { TransferResult } from './stream.js';
import type { ProfileSummary } from '../profile.js';

export type ContenderName =
  | 'direct'
  | 'cache-hit'
  | 'cache-hit-noguard'
  | 'cache-hit-info'
  | 'vault-every'
  | 'delegate'
  | 'base-url'
  | 'squid'
  | 'caddy'
  | 'haproxy'
  | 'nginx'
  | 'tinyproxy'
  | 'mitmdump'
  | 'node-relay';

/** One measurement, with the CPU the proxy (and, for sidecar contenders, the vault) spent on it. */
export type RoundResult = LoadResult & { proxyCpuMs?: number | undefined; vaultCpuMs?: number | undefined };

export interface JsonRow {
  readonly name: ContenderName;
  readonly kind: 'direct' | 'sidecar' | 'anchor' | 'reference';
  status: 'ok' | 'skipped' | 'error';
  note?: string;
  /** One measurement per round. */
  readonly rounds: RoundResult[];
  /** Medians over rounds. */
  rps?: number;
  p50Ms?: number;
  p99Ms?: number;
  badStatus?: number;
  errors?: number;
  readErrors?: number;
  /** Median CPU time of the proxy process(es) per request, microseconds. */
  cpuUsPerReq?: number;
  /** The development vault's, for sidecar contenders. */
  vaultCpuUsPerReq?: number;
  /** Latency at a fixed offered rate below capacity (see paced-worker.ts). */
  paced?: LoadResult;
  pacedNote?: string;
}

export interface SseRow {
  readonly name: string;
  readonly result?: SseResult;
  readonly error?: string;
}

export interface StreamReport {
  readonly mib: number;
  direct?: { download?: TransferResult; upload?: TransferResult };
  sidecar?: {
    download?: TransferResult;
    upload?: TransferResult;
    baselineRss: number;
    /** VmHWM before the transfers: start-up's own peak. */
    baselineHwm: number;
    downloadMaxRss: number;
    uploadMaxRss: number;
    /** VmHWM of a sidecar started for this workload: its peak over its whole life. */
    hwm: number;
  };
  errors: string[];
}

export interface IdleReport {
  readonly requested: number;
  readonly opened: number;
  readonly failed: number;
  readonly firstError?: string | undefined;
  readonly stillOpen: number;
  /** RSS of the freshly started sidecar before its first request (idle after start). */
  readonly startRss: number;
  readonly baselineRss: number;
  readonly rss: number;
  readonly hwm: number;
}

export interface Target {
  readonly id: string;
  readonly text: string;
  readonly status: 'PASS' | 'FAIL' | 'SKIP';
  readonly detail: string;
}

export interface Report {
  meta: Record<string, unknown>;
  notes: string[];
  json: JsonRow[];
  sse: SseRow[];
  stream?: StreamReport;
  idle?: IdleReport;
  profile?: ProfileSummary;
  targets: Target[];
}

const MB = 1024 * 1024;
const f0 = (x: number): string => Math.round(x).toLocaleString('en-US');
const f2 = (x: number): string => x.toFixed(2);
const mib = (b: number): string => `${(b / MB).toFixed(1)} MiB`;
const signed = (x: number): string => `${x >= 0 ? '+' : ''}${x.toFixed(2)}`;

function pad(cells: string[], widths: number[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return [pad(header, widths), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map((r) => pad(r, widths))].join('\n');
}

function row(r: Report, name: ContenderName): JsonRow | undefined {
  const x = r.json.find((j) => j.name === name);
  return x?.status === 'ok' ? x : undefined;
}

/**
 * The small-JSON table: per contender its throughput and latency, the p99 it adds to
 * direct's, and how cache-hit compares with it (the ratios the targets judge), by
 * throughput and by requests per CPU-second of the proxy.
 */
export function formatJson(r: Report, title: string): string {
  const direct = row(r, 'direct');
  const cache = row(r, 'cache-hit');
  const rows = r.json.map((j) => {
    if (j.status !== 'ok') return [j.name, j.status, '', '', '', '', '', '', '', '', j.note ?? ''];
    const rps = j.rps ?? 0;
    return [
      j.name,
      f0(rps),
      f2(j.p50Ms ?? 0),
      f2(j.p99Ms ?? 0),
      direct ? signed((j.p99Ms ?? 0) - (direct.p99Ms ?? 0)) : '',
      direct?.rps ? `${f2(rps / direct.rps)}x` : '',
      cache?.rps && rps ? `${f2(cache.rps / rps)}x` : '',
      j.cpuUsPerReq ? f0(j.cpuUsPerReq) : '',
      j.cpuUsPerReq && cache?.cpuUsPerReq ? `${f2(j.cpuUsPerReq / cache.cpuUsPerReq)}x` : '',
      String((j.badStatus ?? 0) + (j.errors ?? 0)),
      [j.note, j.readErrors ? `${f0(j.readErrors)} conns closed by proxy` : ''].filter(Boolean).join('; '),
    ];
  });
  return `${title}\n${table(['contender', 'req/s', 'p50 ms', 'p99 ms', 'p99-direct', 'vs direct', 'cache-hit/this', 'CPU us/req', 'per-CPU cache-hit/this', 'errors', 'note'], rows)}`;
}

/** Latency at the fixed offered rate: what each hop adds when nothing queues. */
export function formatPaced(r: Report, rate: number, connections: number): string {
  const direct = row(r, 'direct')?.paced;
  const rows = r.json
    .filter((j) => j.status === 'ok')
    .map((j) => {
      const p = j.paced;
      if (!p) return [j.name, '', '', '', '', '', j.pacedNote ?? ''];
      return [
        j.name,
        f2(p.p50Ms),
        f2(p.p90Ms),
        f2(p.p99Ms),
        f2(p.maxMs),
        direct ? signed(p.p99Ms - direct.p99Ms) : '',
        p.badStatus + p.errors ? `${p.badStatus + p.errors} errors` : '',
      ];
    });
  return `Latency at a fixed ${rate} req/s over ${connections} connections (below capacity; held-up requests timed from when they were due)\n${table(
    ['contender', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'p99-direct', 'note'],
    rows,
  )}`;
}

export function formatSse(r: Report): string {
  const rows = r.sse.map((s) => {
    if (!s.result) return [s.name, 'error', '', '', '', '', '', s.error ?? ''];
    const x = s.result;
    return [
      s.name,
      f2(x.ttfeP50Ms),
      f2(x.ttfeMaxMs),
      f2(x.deliveryP50Ms),
      f2(x.deliveryMaxMs),
      `${f2(x.gapMeanMs)} / ${f2(x.gapMaxMs)}`,
      `${x.heldBack} / ${x.coalesced}`,
      `${x.streams}x${x.events / Math.max(1, x.streams)}${x.errors.length ? ` ${x.errors[0]}` : ''}`,
    ];
  });
  return `SSE (time to first event; delivery delay = arrival - upstream send time)\n${table(
    ['contender', 'TTFE p50 ms', 'TTFE max', 'deliv p50 ms', 'deliv max', 'gap mean/max ms', 'held/coalesced', 'streams'],
    rows,
  )}`;
}

export function formatStream(s: StreamReport): string {
  const rate = (t?: TransferResult): string => (t ? `${t.mibPerS.toFixed(0)} MiB/s` : '-');
  const rows = [
    ['direct', rate(s.direct?.download), rate(s.direct?.upload), '', ''],
    [
      'sidecar',
      rate(s.sidecar?.download),
      rate(s.sidecar?.upload),
      s.sidecar ? `${mib(s.sidecar.downloadMaxRss)} / ${mib(s.sidecar.uploadMaxRss)}` : '',
      s.sidecar ? `${mib(s.sidecar.hwm)} (before: RSS ${mib(s.sidecar.baselineRss)}, HWM ${mib(s.sidecar.baselineHwm)})` : '',
    ],
  ];
  const errs = s.errors.length ? `\n  errors: ${s.errors.join('; ')}` : '';
  return `${s.mib} MiB streamed (one request each way)\n${table(
    ['contender', 'download', 'upload', 'sampled max RSS down / up', 'peak RSS (VmHWM)'],
    rows,
  )}${errs}`;
}

export function formatIdle(i: IdleReport): string {
  // A collection between the two readings can make the difference negative: then say so.
  const delta = i.rss - i.baselineRss;
  const per = i.opened > 0 && delta > 0 ? `~${(delta / i.opened / 1024).toFixed(1)} KiB per connection` : 'a GC ran between the readings';
  return (
    `Idle keep-alive connections: ${i.opened}/${i.requested} opened (${i.failed} failed), ${i.stillOpen} still open at measurement\n` +
    `  sidecar RSS ${mib(i.rss)} (before ${mib(i.baselineRss)}, ${per}), VmHWM ${mib(i.hwm)}; idle after start ${mib(i.startRss)}` +
    (i.firstError ? `\n  first error: ${i.firstError}` : '')
  );
}

/** The same ratio in requests per CPU-second of the proxy, steadier on a busy machine. */
function perCpu(a: JsonRow, b: JsonRow): string {
  if (!a.cpuUsPerReq || !b.cpuUsPerReq) return '';
  return ` (per proxy CPU-second: ${f2(b.cpuUsPerReq / a.cpuUsPerReq)}x)`;
}

/** cache-hit against each anchor of its class (issue 13): throughput per core, all single-core. */
const ANCHOR_TARGETS = [
  { anchor: 'squid', factor: 1.25 },
  { anchor: 'caddy', factor: 1.25 },
  { anchor: 'tinyproxy', factor: 3.5 },
  { anchor: 'mitmdump', factor: 20 },
] as const satisfies readonly { anchor: ContenderName; factor: number }[];

/** Sidecar CPU per request against the bare node:http + undici relay on the same node. */
const RELAY_CPU_FACTOR = 1.1;
/** Fixed-rate p99 allowance over direct, ms. */
const P99_ALLOWANCE_MS = 2;

/** Judges the targets from this run's figures. */
export function judge(r: Report): Target[] {
  const t: Target[] = [];
  const add = (id: string, text: string, ok: boolean | undefined, detail: string): void => {
    t.push({ id, text, status: ok === undefined ? 'SKIP' : ok ? 'PASS' : 'FAIL', detail });
  };
  const cache = row(r, 'cache-hit');
  const noguard = row(r, 'cache-hit-noguard');
  const direct = row(r, 'direct');
  const relay = row(r, 'node-relay');
  const vault = row(r, 'vault-every');
  const skip = (what: string): string => `not measured (${what})`;
  // Pinned, every proxy has exactly one core, so its req/s is its throughput per core.
  // Unpinned, req/s is not per core: then the ratio of requests per proxy CPU-second decides.
  const pinned = r.meta.pinning !== 'off';

  for (const { anchor, factor } of ANCHOR_TARGETS) {
    const a = row(r, anchor);
    const rpsRatio = cache && a ? (cache.rps ?? 0) / (a.rps || 1) : undefined;
    const cpuRatio = cache?.cpuUsPerReq && a?.cpuUsPerReq ? a.cpuUsPerReq / cache.cpuUsPerReq : undefined;
    const ratio = pinned ? rpsRatio : cpuRatio;
    add(
      `cache-vs-${anchor}`,
      `cache-hit throughput per core >= ${factor}x ${anchor}`,
      ratio === undefined ? undefined : ratio >= factor,
      cache && a
        ? pinned
          ? `${f0(cache.rps ?? 0)} vs ${f0(a.rps ?? 0)} req/s, one core each = ${f2(rpsRatio ?? 0)}x${perCpu(cache, a)}`
          : `not pinned: judged per proxy CPU-second = ${cpuRatio === undefined ? '?' : f2(cpuRatio)}x (req/s ${f2(rpsRatio ?? 0)}x)`
        : skip(!cache ? 'cache-hit' : `${anchor}: ${r.json.find((j) => j.name === anchor)?.note ?? 'not selected'}`),
    );
  }
  add(
    'cpu-vs-relay',
    `cache-hit sidecar CPU per request <= ${RELAY_CPU_FACTOR}x the node-relay floor`,
    cache?.cpuUsPerReq && relay?.cpuUsPerReq ? cache.cpuUsPerReq <= RELAY_CPU_FACTOR * relay.cpuUsPerReq : undefined,
    cache?.cpuUsPerReq && relay?.cpuUsPerReq
      ? `${f0(cache.cpuUsPerReq)} vs ${f0(relay.cpuUsPerReq)} us/req = ${f2(cache.cpuUsPerReq / relay.cpuUsPerReq)}x`
      : skip(!cache ? 'cache-hit' : 'node-relay'),
  );
  add(
    'vault-vs-cache',
    'vault-every-request throughput >= 0.5x cache-hit',
    cache && vault ? (vault.rps ?? 0) >= 0.5 * (cache.rps ?? 0) : undefined,
    cache && vault
      ? `${f0(vault.rps ?? 0)} vs ${f0(cache.rps ?? 0)} req/s = ${f2((vault.rps ?? 0) / (cache.rps || 1))}x${perCpu(vault, cache)}`
      : skip(!cache ? 'cache-hit' : 'vault-every'),
  );
  // Issue 12: the response guard searches every answer on a credential route; its cost is the
  // difference between the same cache-hit route with the guard on (default) and off.
  add(
    'guard-cost',
    'response guard: cache-hit throughput with the guard on >= 0.9x with it off',
    cache && noguard ? (cache.rps ?? 0) >= 0.9 * (noguard.rps ?? 0) : undefined,
    cache && noguard
      ? `${f0(cache.rps ?? 0)} vs ${f0(noguard.rps ?? 0)} req/s = ${f2((cache.rps ?? 0) / (noguard.rps || 1))}x${perCpu(cache, noguard)}`
      : skip(!cache ? 'cache-hit' : 'cache-hit-noguard'),
  );
  // Judged at the fixed rate: saturated, a closed loop's latency is connections / throughput,
  // so the saturated figure restates throughput; it is printed beside for reference.
  const cp = cache?.paced;
  const dp = direct?.paced;
  const saturated =
    cache && direct
      ? `; saturated: ${f2(cache.p99Ms ?? 0)} vs ${f2(direct.p99Ms ?? 0)} ms (${signed((cache.p99Ms ?? 0) - (direct.p99Ms ?? 0))})`
      : '';
  add(
    'p99',
    `cache-hit p99 at 32 connections <= direct p99 + ${P99_ALLOWANCE_MS} ms (at the fixed rate)`,
    cp && dp ? cp.p99Ms <= dp.p99Ms + P99_ALLOWANCE_MS : undefined,
    cp && dp
      ? `${f2(cp.p99Ms)} ms vs direct ${f2(dp.p99Ms)} ms (${signed(cp.p99Ms - dp.p99Ms)})${saturated}`
      : `not measured at a fixed rate (${cache?.pacedNote ?? direct?.pacedNote ?? 'cache-hit or direct'})${saturated}`,
  );
  const sd = r.sse.find((s) => s.name === 'direct')?.result;
  const ss = r.sse.find((s) => s.name === 'sidecar')?.result;
  const sseOk = sd && ss && ss.streams > 0 && sd.streams > 0 && ss.errors.length === 0;
  add(
    'sse',
    'SSE first event within 5 ms of direct; no event held back',
    sd && ss ? Boolean(sseOk) && ss.ttfeP50Ms <= sd.ttfeP50Ms + 5 && ss.heldBack === 0 : undefined,
    sd && ss
      ? `TTFE p50 ${f2(ss.ttfeP50Ms)} ms vs direct ${f2(sd.ttfeP50Ms)} ms; held back ${ss.heldBack} (direct ${sd.heldBack}); max delivery ${f2(ss.deliveryMaxMs)} ms${ss.errors.length ? `; ${ss.errors[0]}` : ''}`
      : skip('SSE'),
  );
  const st = r.stream?.sidecar;
  const streamDone = st?.download && st.upload;
  add(
    'stream-rss',
    `${r.stream?.mib ?? 200} MiB stream: sidecar peak RSS < 150 MiB`,
    st ? Boolean(streamDone) && st.hwm < 150 * MB : undefined,
    st ? `VmHWM ${mib(st.hwm)}${streamDone ? '' : ' (a transfer failed)'}` : skip('stream'),
  );
  const idle = r.idle;
  add(
    'start-rss',
    'idle after start: sidecar RSS <= 80 MiB',
    idle ? idle.startRss > 0 && idle.startRss <= 80 * MB : undefined,
    idle ? `RSS ${mib(idle.startRss)} before the first request` : skip('idle'),
  );
  add(
    'idle-rss',
    `${idle?.requested ?? 1000} idle keep-alive connections: sidecar RSS < 160 MiB`,
    idle ? idle.opened === idle.requested && idle.rss < 160 * MB : undefined,
    idle ? `RSS ${mib(idle.rss)} with ${idle.stillOpen}/${idle.requested} open` : skip('idle'),
  );
  return t;
}

export function formatTargets(ts: readonly Target[]): string {
  return ['Targets', ...ts.map((x) => `  [${x.status}] ${x.text}: ${x.detail}`)].join('\n');
}
