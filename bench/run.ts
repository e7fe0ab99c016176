/**
 * `npm run bench`: measures the sidecar beside a direct call and beside the proxies a
 * user would pick instead (issue 7), in one bounded run on loopback, and judges the
 * targets. Everything is started here on 127.0.0.1 ephemeral ports and stopped at the
 * end, on errors and on signals. See bench/README.md for the method and the targets.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ANCHORS, findAnchors } from './lib/anchors.js';
import { pickGenerator } from './lib/load.js';
import { Processes, runSync, which } from './lib/proc.js';
import { formatIdle, formatJson, formatPaced, formatSse, formatStream, formatTargets, judge, type Report } from './lib/report.js';
import { findSidecar, shippedRuntime, type SidecarMode } from './lib/sidecar.js';
import { formatProfile } from './profile.js';
import { ensureNode24, NODE24_VERSION, nodeVersionOf } from '../scripts/node24.mjs';
import {
  CONTENDERS,
  type Ctx,
  runIdle,
  runJsonWorkload,
  runProfile,
  runSse,
  runStream,
  startUpstream,
  WORKLOADS,
  type WorkloadName,
} from './lib/workloads.js';
import type { ContenderName } from './lib/report.js';

const HELP = `npm run bench [-- options]

  --quick              short run (one round of 2 s, fewer SSE streams, 50 MiB streams)
  --only NAMES         comma list of contenders (${CONTENDERS.join(', ')})
                       and/or workloads (${WORKLOADS.join(', ')}); direct is always measured
  --profile            also profile the cache-hit path with --cpu-prof (workload 'profile')
  --gen wrk|autocannon load generator (default: wrk when installed)
  --duration S         seconds per throughput measurement (default 3, quick 2)
  --warmup S           warm-up seconds before a contender's first measurement (default 1)
  --connections N      concurrent connections (default 32)
  --rounds N           measure every contender N times, alternating the order, and
                       report medians (default 3, quick 1)
  --rate N             fixed offered rate for the latency measurement (default 500 req/s;
                       0 skips it); contenders below 2x this capacity are not paced
  --stream-mib N       size of the streamed upload and download (default 200, quick 50)
  --idle N             idle keep-alive connections (default 1000)
  --sidecar auto|dist|head|tsx  which sidecar: auto (default) uses dist/ when newer than src/,
                       else runs npm run build, else builds the last commit apart (head),
                       else runs src/ with tsx
  --rev REV            build and measure commit REV (implies --sidecar head)
  --node PATH          the node binary that runs the sidecar and node-relay (default: the
                       Node 24 the image ships, from scripts/node24.mjs, fetched if absent)
  --node-flags='F ...' extra node flags for the sidecar (experiments, e.g. --node-flags=--max-semi-space-size=4)
  --no-pin             do not pin processes to CPUs
  --strict             exit 1 when a target FAILs
  --keep               keep the temporary directory (configs, logs)
`;

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function parse(): Ctx['opts'] & { strict: boolean; keep: boolean; only: string[]; node: string | undefined } {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      profile: { type: 'boolean', default: false },
      gen: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      rounds: { type: 'string' },
      rate: { type: 'string' },
      'stream-mib': { type: 'string' },
      idle: { type: 'string' },
      sidecar: { type: 'string', default: 'auto' },
      'node-flags': { type: 'string' },
      rev: { type: 'string' },
      node: { type: 'string' },
      'no-pin': { type: 'boolean', default: false },
      strict: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const quick = values.quick ?? false;
  const num = (v: string | undefined, d: number, min: number, max: number): number => {
    const n = v === undefined ? d : Number(v);
    if (!Number.isFinite(n) || n < min || n > max) throw new Error(`bad number ${v} (allowed ${min}..${max})`);
    return n;
  };
  const only = (values.only ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  for (const o of only) {
    if (!(CONTENDERS as readonly string[]).includes(o) && !(WORKLOADS as readonly string[]).includes(o)) {
      throw new Error(`--only: unknown name '${o}'\n\n${HELP}`);
    }
  }
  const mode = values.rev !== undefined ? 'head' : (values.sidecar ?? 'auto');
  if (!['auto', 'dist', 'head', 'tsx'].includes(mode)) throw new Error(`--sidecar must be auto, dist, head or tsx`);
  return {
    quick,
    only,
    profile: values.profile ?? false,
    generator: pickGenerator(values.gen),
    durationS: num(values.duration, quick ? 2 : 3, 1, 120),
    warmupS: num(values.warmup, 1, 0, 30),
    connections: num(values.connections, 32, 1, 1000),
    rounds: num(values.rounds, quick ? 1 : 3, 1, 10),
    pacedRate: num(values.rate, 500, 0, 100_000),
    streamMib: num(values['stream-mib'], quick ? 50 : 200, 1, 4096),
    idleConns: num(values.idle, 1000, 1, 5000),
    sseStreams: quick ? 4 : 10,
    sseEvents: quick ? 5 : 10,
    sseIntervalMs: 50,
    sidecarMode: mode as SidecarMode,
    rev: values.rev,
    node: values.node,
    sidecarNodeFlags: (values['node-flags'] ?? '').split(/\s+/).filter(Boolean),
    pin: !(values['no-pin'] ?? false),
    strict: values.strict ?? false,
    keep: values.keep ?? false,
  };
}

/**
 * The node that runs the sidecar: --node, else the pinned Node 24 (what the image ships),
 * else, when that cannot be had, the harness's own node with a note saying so.
 */
function sidecarNode(explicit: string | undefined, notes: string[], log: (s: string) => void): { path: string; version: string } {
  if (explicit !== undefined) {
    const version = nodeVersionOf(explicit);
    if (!version) throw new Error(`--node ${explicit}: not a runnable node binary`);
    if (!version.startsWith('v24.')) notes.push(`the sidecar runs on node ${version} (--node), not the Node 24 the image ships`);
    return { path: explicit, version };
  }
  try {
    const path = ensureNode24();
    return { path, version: `v${NODE24_VERSION}` };
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    log(`node24: ${why}`);
    notes.push(`Node ${NODE24_VERSION} unavailable (${why}): the sidecar runs on the harness's node ${process.version}, not the image's runtime`);
    return { path: process.execPath, version: process.version };
  }
}

function selection(only: string[], profile: boolean): { workloads: WorkloadName[]; contenders: ContenderName[] } {
  const ws = only.filter((o): o is WorkloadName => (WORKLOADS as readonly string[]).includes(o));
  const cs = only.filter((o): o is ContenderName => (CONTENDERS as readonly string[]).includes(o));
  let workloads: WorkloadName[] = ws.length ? ws : cs.length ? ['json'] : ['json', 'sse', 'stream', 'idle'];
  if (profile && !workloads.includes('profile')) workloads = [...workloads, 'profile'];
  const contenders = cs.length ? CONTENDERS.filter((c) => c === 'direct' || cs.includes(c)) : [...CONTENDERS];
  return { workloads, contenders };
}

function stamp(d: Date): string {
  return d.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
}

async function main(): Promise<number> {
  const opts = parse();
  const started = new Date();
  const log = (s: string): void => void process.stderr.write(`${s}\n`);
  const twoCpus = cpus().length >= 2;
  const pin = opts.pin && twoCpus && which('taskset') !== undefined;
  const sidecarCpu = pin ? 0 : undefined;
  const genCpu = pin ? 1 : undefined;
  if (pin) runSync('taskset', ['-a', '-cp', '1', String(process.pid)], 5000); // the harness sits with the generator
  const tmp = mkdtempSync(join(tmpdir(), 'sanctum-bench-'));
  const procs = new Processes(tmp, pin);
  const { workloads, contenders } = selection(opts.only, opts.profile);
  const budgetMs = (opts.quick ? 5 : 15) * 60_000 + opts.rounds * 8 * (opts.durationS + opts.warmupS) * 1000;

  let cleaned = false;
  let interrupted = false;
  const cleanup = async (): Promise<void> => {
    if (cleaned) return;
    cleaned = true;
    await procs.stopAll();
    if (!opts.keep) rmSync(tmp, { recursive: true, force: true });
  };
  process.on('exit', () => procs.killAllNow());
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      if (interrupted) return;
      interrupted = true;
      log(`\n${sig}: stopping everything the bench started`);
      void cleanup().finally(() => process.exit(130));
    });
  }
  const watchdog = setTimeout(() => {
    log(`bench exceeded its ${Math.round(budgetMs / 1000)} s budget: stopping`);
    void cleanup().finally(() => process.exit(3));
  }, budgetMs);
  watchdog.unref();

  const token = `bench-${Math.random().toString(36).slice(2, 12)}`;
  const anchors = findAnchors();
  const report: Report = {
    meta: {
      started: started.toISOString(),
      node: process.version,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      pinning: pin ? 'sidecar/anchors: CPU 0; upstream, vault, generator, harness: CPU 1' : 'off',
      generator: opts.generator,
      options: { ...opts },
      workloads,
      contenders,
    },
    notes: [],
    json: [],
    sse: [],
    targets: [],
  };
  for (const m of anchors.missing) if (contenders.includes(m.name)) report.notes.push(m.note);
  const node = sidecarNode(opts.node, report.notes, log);
  report.meta.sidecarNode = node.version;
  if (!pin) report.notes.push(opts.pin ? 'taskset or a second CPU is missing: processes are not pinned' : 'pinning off (--no-pin)');

  try {
    log(`bench: ${workloads.join(', ')} | generator ${opts.generator} | ${pin ? 'pinned' : 'not pinned'} | tmp ${tmp}`);
    log(`sidecar node: ${node.version} (${node.path})`);
    const needsSidecar =
      workloads.some((w) => w !== 'json') || contenders.some((c) => c !== 'direct' && c !== 'node-relay' && !(ANCHORS as readonly string[]).includes(c));
    const launcher = needsSidecar ? findSidecar(node.path, ROOT, opts.sidecarMode, log, tmp, opts.rev) : 'not needed';
    if (typeof launcher === 'string') {
      if (needsSidecar) report.notes.push(`sidecar not runnable, its contenders and workloads are skipped: ${launcher}`);
    } else {
      report.meta.sidecar = launcher.note;
      report.meta.sidecarRuntime = shippedRuntime(ROOT, launcher).describe;
      log(`sidecar: ${report.meta.sidecarRuntime}`);
    }
    const up = await startUpstream(procs, ROOT, genCpu, token);
    const ctx: Ctx = {
      root: ROOT,
      tmp,
      stamp: stamp(started),
      procs,
      opts,
      token,
      sidecarCpu,
      genCpu,
      upstream: up,
      launcher: typeof launcher === 'string' ? undefined : launcher,
      sidecarNode: node.path,
      launcherWhy: typeof launcher === 'string' ? launcher : undefined,
      anchorsPresent: anchors.present,
      report,
      log,
    };
    for (const w of workloads) {
      log(`\n== ${w}`);
      if (w === 'json') await runJsonWorkload(ctx, contenders);
      else if (w === 'sse') await runSse(ctx);
      else if (w === 'stream') await runStream(ctx);
      else if (w === 'idle') await runIdle(ctx);
      else await runProfile(ctx);
    }
  } catch (e) {
    report.notes.push(`bench aborted: ${e instanceof Error ? e.message : String(e)}`);
    log(`bench aborted: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  } finally {
    await cleanup();
    clearTimeout(watchdog);
  }

  if (interrupted) return 130;
  report.targets = judge(report);
  report.meta.finished = new Date().toISOString();
  report.meta.seconds = Math.round((Date.now() - started.getTime()) / 1000);
  // First line: what ran as the sidecar (memory figures depend on node, flags and NODE_OPTIONS).
  const out: string[] = ['', `Sidecar as shipped: ${String(report.meta.sidecarRuntime ?? 'not started')}`, ''];
  if (report.json.length) {
    out.push(
      formatJson(
        report,
        `Small JSON on Node ${String(report.meta.sidecarNode)} (sidecar and node-relay; harness ${process.version}), ${opts.connections} connections, ${opts.durationS} s runs after a warm-up (${opts.warmupS}-4 s), ${opts.generator}${opts.rounds > 1 ? `, median of ${opts.rounds} rounds` : ''}`,
      ),
      '',
    );
  }
  if (report.json.some((j) => j.paced)) out.push(formatPaced(report, opts.pacedRate, opts.connections), '');
  if (report.sse.length) out.push(formatSse(report), '');
  if (report.stream) out.push(formatStream(report.stream), '');
  if (report.idle) out.push(formatIdle(report.idle), '');
  if (report.profile) out.push(formatProfile(report.profile), '');
  if (report.notes.length) out.push('Notes', ...report.notes.map((n) => `  - ${n}`), '');
  out.push(formatTargets(report.targets));
  const resultsDir = join(ROOT, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `${stamp(started)}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  out.push('', `results: ${file} (${report.meta.seconds} s)`);
  process.stdout.write(`${out.join('\n')}\n`);
  const failed = report.targets.some((t) => t.status === 'FAIL');
  return opts.strict && failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`bench: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(2);
  },
);
