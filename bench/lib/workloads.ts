/**
 * The workloads of issue 7, each a function of the run's context: small JSON through
 * every contender, SSE, large streams, idle connections, and a CPU profile of the
 * cache-hit path. Each sidecar-only workload gets a freshly started sidecar so that
 * its memory figures (VmHWM in particular) belong to that workload alone.
 */
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { analyseProfile } from '../profile.js';
import { ANCHOR_PACKAGE, ANCHORS, type AnchorName, type AnchorRunning, startAnchor } from './anchors.js';
import { getJson, request } from './http.js';
import { openIdle } from './idle.js';
import { type Generator, type LoadTarget, runLoad, runPaced } from './load.js';
import { cpuMsOf, memoryOf, type Processes, RssSampler, sleep, type Spawned } from './proc.js';
import type { ContenderName, JsonRow, Report, RoundResult } from './report.js';
import {
  HOSTS,
  PREFIX,
  type SidecarLauncher,
  type SidecarMode,
  type SidecarRunning,
  type SidecarSetup,
  shippedEnv,
  startSidecar,
  startVault,
} from './sidecar.js';
import { measureSse } from './sse.js';
import { SHIPPED_NODE_FLAGS } from '../../scripts/shipped-runtime.mjs';
import { median } from './stats.js';
import { download, type StreamTarget, upload } from './stream.js';

export const CONTENDERS = [
  'direct',
  'cache-hit',
  'cache-hit-noguard',
  'cache-hit-info',
  'vault-every',
  'delegate',
  'base-url',
  'squid',
  'caddy',
  'haproxy',
  'nginx',
  'tinyproxy',
  'mitmdump',
  'node-relay',
] as const satisfies readonly ContenderName[];
export const WORKLOADS = ['json', 'sse', 'stream', 'idle', 'profile'] as const;
export type WorkloadName = (typeof WORKLOADS)[number];

export interface Upstream {
  readonly child: Spawned;
  /** Raw-socket small-JSON listener. */
  readonly fast: number;
  /** node:http listener for SSE, streams and /__stats. */
  readonly http: number;
}

export interface Ctx {
  readonly root: string;
  readonly tmp: string;
  readonly stamp: string;
  readonly procs: Processes;
  readonly opts: {
    readonly quick: boolean;
    readonly profile: boolean;
    readonly generator: Generator;
    readonly durationS: number;
    readonly warmupS: number;
    readonly connections: number;
    readonly rounds: number;
    readonly pacedRate: number;
    readonly streamMib: number;
    readonly idleConns: number;
    readonly sseStreams: number;
    readonly sseEvents: number;
    readonly sseIntervalMs: number;
    readonly sidecarMode: SidecarMode;
    readonly sidecarNodeFlags: readonly string[];
    readonly rev: string | undefined;
    readonly pin: boolean;
  };
  readonly token: string;
  readonly sidecarCpu: number | undefined;
  readonly genCpu: number | undefined;
  readonly upstream: Upstream;
  readonly launcher: SidecarLauncher | undefined;
  /** The node binary that runs the sidecar and node-relay (the one the image ships by default). */
  readonly sidecarNode: string;
  readonly launcherWhy: string | undefined;
  readonly anchorsPresent: readonly AnchorName[];
  readonly report: Report;
  readonly log: (s: string) => void;
}

const MB = 1024 * 1024;

/** Starts the upstream process (pinned with the generator) and reads its two ports. */
export async function startUpstream(procs: Processes, root: string, cpu: number | undefined, token: string): Promise<Upstream> {
  const child = procs.spawn('upstream', process.execPath, ['--import', 'tsx', join(root, 'bench', 'upstream.ts')], {
    cpu,
    cwd: root,
    env: { ...process.env, BENCH_TOKEN: token },
  });
  const m = await child.waitFor(/LISTENING fast=(\d+) http=(\d+)/, 30_000);
  return { child, fast: Number(m[1]), http: Number(m[2]) };
}

let vaultSetup: SidecarSetup | undefined;

/** Runs `fn` with a freshly started sidecar (and the shared dev vault), then stops it. */
async function withSidecar<T>(
  ctx: Ctx,
  name: string,
  fn: (sc: SidecarRunning) => Promise<T>,
  nodeFlags: readonly string[] = [],
): Promise<T> {
  if (!ctx.launcher) throw new Error(`sidecar not runnable: ${ctx.launcherWhy ?? '?'}`);
  vaultSetup ??= await startVault(ctx.procs, ctx.root, join(ctx.tmp, 'sidecar'), ctx.launcher, {
    cpu: ctx.genCpu,
    token: ctx.token,
    fastPort: ctx.upstream.fast,
    httpPort: ctx.upstream.http,
  });
  const sc = await startSidecar(ctx.procs, ctx.root, vaultSetup, {
    cpu: ctx.sidecarCpu,
    name,
    nodeFlags: [...ctx.opts.sidecarNodeFlags, ...nodeFlags],
  });
  if (!sc.ready) ctx.log(`  ${name}: /readyz did not answer 200 within 10 s; measuring anyway`);
  try {
    return await fn(sc);
  } finally {
    await ctx.procs.stop(sc.child, 'SIGTERM', 10_000);
  }
}

async function authCount(ctx: Ctx): Promise<number> {
  return (await getJson<{ authOk: number }>(ctx.upstream.http, '/__stats')).authOk;
}

/** One request through the contender: it must answer 200 and the upstream must have seen the credential. */
async function probe(ctx: Ctx, t: LoadTarget): Promise<string | undefined> {
  const before = await authCount(ctx);
  const r = await request({ port: t.port, path: t.path, host: t.host, headers: t.headers ?? {} }).catch(
    (e: unknown) => ({ status: 0, headers: {}, body: String(e) }),
  );
  const after = await authCount(ctx);
  if (r.status !== 200) {
    const code = (r.headers as Record<string, unknown>)['x-sanctum-error'];
    return `probe: status ${r.status}${code ? ` ${String(code)}` : ''} ${r.body.slice(0, 160)}`;
  }
  if (after <= before) return 'probe: 200 but the upstream did not see the injected credential';
  return undefined;
}

function targetFor(ctx: Ctx, name: ContenderName, sc: SidecarRunning | undefined, anchor: { port: number } | undefined): LoadTarget {
  const fast = ctx.upstream.fast;
  switch (name) {
    case 'direct':
      return { port: fast, path: '/json', headers: { authorization: `Bearer ${ctx.token}` } };
    case 'cache-hit':
      return { port: sc?.port ?? 0, path: `http://${HOSTS.cached}/json`, host: HOSTS.cached };
    case 'cache-hit-noguard':
      return { port: sc?.port ?? 0, path: `http://${HOSTS.cachedNoGuard}/json`, host: HOSTS.cachedNoGuard };
    case 'cache-hit-info':
      // The cache-hit route on a second sidecar that logs at info (sc is that one here).
      return { port: sc?.port ?? 0, path: `http://${HOSTS.cached}/json`, host: HOSTS.cached };
    case 'vault-every':
      return { port: sc?.port ?? 0, path: `http://${HOSTS.nocache}/json`, host: HOSTS.nocache };
    case 'delegate':
      return { port: sc?.port ?? 0, path: `http://${HOSTS.delegate}/json`, host: HOSTS.delegate };
    case 'base-url':
      return { port: sc?.port ?? 0, path: `${PREFIX}/json` };
    case 'nginx':
    case 'caddy':
    case 'haproxy':
      return { port: anchor?.port ?? 0, path: '/json' };
    case 'squid':
    case 'tinyproxy':
    case 'mitmdump':
    case 'node-relay':
      return { port: anchor?.port ?? 0, path: `http://127.0.0.1:${fast}/json`, host: `127.0.0.1:${fast}` };
  }
}

/**
 * The bare node:http + undici relay (bench/node-relay.ts), pinned like a proxy under test,
 * on the sidecar's node with the sidecar's shipped node flags and environment: the young
 * generation size and malloc settings change the CPU per request of any Node proxy, and
 * the floor must stand on the same settings as the sidecar it is compared with.
 */
async function startNodeRelay(ctx: Ctx): Promise<{ child: Spawned; port: number }> {
  const args = [...SHIPPED_NODE_FLAGS, ...ctx.opts.sidecarNodeFlags, '--import', 'tsx', join(ctx.root, 'bench', 'node-relay.ts')];
  const child = ctx.procs.spawn('node-relay', ctx.sidecarNode, args, {
    cpu: ctx.sidecarCpu,
    cwd: ctx.root,
    env: { ...process.env, ...shippedEnv(ctx.root), BENCH_UPSTREAM: `http://127.0.0.1:${ctx.upstream.fast}`, BENCH_TOKEN: ctx.token },
  });
  const m = await child.waitFor(/LISTENING (\d+)/, 30_000);
  return { child, port: Number(m[1]) };
}

/** Requests a warm-up should reach so that the JIT has compiled the hot path. */
const WARM_REQUESTS = 10_000;
/** Longest warm-up for a contender that stays slow (tinyproxy, mitmdump) or a busy machine. */
const WARM_MAX_S = 4;

/**
 * Warm-up by work done, not only by time: `--warmup` seconds, then more one-second
 * runs until WARM_REQUESTS requests or WARM_MAX_S seconds. On a busy machine one second
 * can be a few hundred requests, and the JIT would then compile (on the proxy's CPU,
 * charged to its CPU time) during the measurement.
 */
async function warmUp(ctx: Ctx, t: LoadTarget, loadOpts: Parameters<typeof runLoad>[3]): Promise<void> {
  if (ctx.opts.warmupS <= 0) return;
  let done = (await runLoad(ctx.procs, t, ctx.opts.warmupS, loadOpts)).requests;
  for (let s = ctx.opts.warmupS; done < WARM_REQUESTS && s < WARM_MAX_S; s += 1) {
    done += (await runLoad(ctx.procs, t, 1, loadOpts)).requests;
  }
}

function kindOf(name: ContenderName): JsonRow['kind'] {
  if (name === 'direct') return 'direct';
  if (name === 'node-relay') return 'reference';
  return (ANCHORS as readonly string[]).includes(name) ? 'anchor' : 'sidecar';
}

/** Small JSON at N connections through every selected contender, `rounds` times in alternating order. */
export async function runJsonWorkload(ctx: Ctx, contenders: readonly ContenderName[]): Promise<void> {
  const rows = new Map<ContenderName, JsonRow>();
  for (const c of contenders) {
    const row: JsonRow = { name: c, kind: kindOf(c), status: 'ok', rounds: [] };
    if (row.kind === 'sidecar' && !ctx.launcher) Object.assign(row, { status: 'skipped', note: 'sidecar not runnable' });
    if (row.kind === 'anchor' && !ctx.anchorsPresent.includes(c as AnchorName)) {
      Object.assign(row, { status: 'skipped', note: `not installed (apt-get install -y ${ANCHOR_PACKAGE[c as AnchorName]})` });
    }
    rows.set(c, row);
    ctx.report.json.push(row);
  }
  const anchors = new Map<ContenderName, AnchorRunning>();
  let relay: { child: Spawned; port: number } | undefined;
  /** cache-hit-info's sidecar: the same one, logging the canonical line of every request (to a file, as a container runtime takes stdout). */
  let infoSidecar: SidecarRunning | undefined;
  const loadOpts = { generator: ctx.opts.generator, connections: ctx.opts.connections, cpu: ctx.genCpu, tmpDir: ctx.tmp };
  const targets = new Map<ContenderName, LoadTarget>();
  const measureAll = async (sc: SidecarRunning | undefined): Promise<void> => {
    await measureRounds(sc);
    await measurePaced();
  };
  // Latency at a fixed rate below capacity: what the hop adds, without queueing.
  const measurePaced = async (): Promise<void> => {
    if (ctx.opts.pacedRate <= 0) return;
    for (const c of contenders) {
      const row = rows.get(c);
      const target = targets.get(c);
      if (!row || row.status !== 'ok' || !target) continue;
      const capacity = median(row.rounds.map((r) => r.rps));
      if (capacity < 2 * ctx.opts.pacedRate) {
        row.pacedNote = `not paced: capacity ${Math.round(capacity)} req/s < 2x ${ctx.opts.pacedRate}`;
        continue;
      }
      try {
        row.paced = await runPaced(ctx.procs, target, ctx.opts.durationS, {
          connections: ctx.opts.connections,
          rate: ctx.opts.pacedRate,
          cpu: ctx.genCpu,
        });
        ctx.log(`  ${c.padEnd(12)} at ${ctx.opts.pacedRate} req/s: p50 ${row.paced.p50Ms.toFixed(2)} ms  p99 ${row.paced.p99Ms.toFixed(2)} ms`);
      } catch (e) {
        row.pacedNote = e instanceof Error ? e.message.split('\n')[0] : String(e);
      }
    }
  };
  const measureRounds = async (sc: SidecarRunning | undefined): Promise<void> => {
    for (let round = 0; round < ctx.opts.rounds; round += 1) {
      const order = round % 2 === 0 ? [...contenders] : [...contenders].reverse();
      for (const c of order) {
        const row = rows.get(c);
        if (!row || row.status !== 'ok') continue;
        if (row.kind === 'sidecar' && !sc) continue;
        try {
          let anchor = anchors.get(c);
          if (row.kind === 'anchor' && !anchor) {
            anchor = await startAnchor(c as AnchorName, {
              procs: ctx.procs,
              dir: join(ctx.tmp, 'anchors'),
              cpu: ctx.sidecarCpu,
              upstreamPort: ctx.upstream.fast,
              token: ctx.token,
            });
            anchors.set(c, anchor);
            row.note = anchor.version;
          }
          if (row.kind === 'reference' && !relay) {
            relay = await startNodeRelay(ctx);
            row.note = 'node:http + undici dispatch, no sidecar logic (reference)';
          }
          if (c === 'cache-hit-info' && !infoSidecar && vaultSetup) {
            infoSidecar = await startSidecar(ctx.procs, ctx.root, vaultSetup, {
              cpu: ctx.sidecarCpu,
              name: 'sidecar-info',
              nodeFlags: ctx.opts.sidecarNodeFlags,
              logLevel: 'info',
              stdoutFile: join(ctx.tmp, 'sidecar-info.stdout'),
            });
            row.note = 'cache-hit on a second sidecar at log level info (one canonical line per request, stdout to a file)';
          }
          const own = c === 'cache-hit-info' ? infoSidecar : sc;
          const target = targetFor(ctx, c, own, row.kind === 'reference' ? { port: relay?.port ?? 0 } : anchor);
          targets.set(c, target);
          if (round === 0) {
            const bad = await probe(ctx, target);
            if (bad) {
              row.status = 'error';
              row.note = bad;
              ctx.log(`  ${c}: ${bad}`);
              continue;
            }
          }
          if (round === 0) await warmUp(ctx, target, loadOpts);
          const proxyPid = row.kind === 'sidecar' ? own?.child.pid : row.kind === 'reference' ? relay?.child.pid : anchor?.child.pid;
          const vaultPid = row.kind === 'sidecar' ? vaultSetup?.vault.pid : undefined;
          const cpu0 = proxyPid === undefined ? undefined : cpuMsOf(proxyPid);
          const vcpu0 = vaultPid === undefined ? undefined : cpuMsOf(vaultPid);
          const load = await runLoad(ctx.procs, target, ctx.opts.durationS, loadOpts);
          const cpu1 = proxyPid === undefined ? undefined : cpuMsOf(proxyPid);
          const vcpu1 = vaultPid === undefined ? undefined : cpuMsOf(vaultPid);
          const r: RoundResult = {
            ...load,
            proxyCpuMs: cpu0 !== undefined && cpu1 !== undefined ? cpu1 - cpu0 : undefined,
            vaultCpuMs: vcpu0 !== undefined && vcpu1 !== undefined ? vcpu1 - vcpu0 : undefined,
          };
          row.rounds.push(r);
          ctx.log(
            `  ${c.padEnd(12)} ${Math.round(r.rps).toString().padStart(7)} req/s  p50 ${r.p50Ms.toFixed(2)} ms  p99 ${r.p99Ms.toFixed(2)} ms` +
              (r.badStatus + r.errors + r.readErrors ? `  (${r.badStatus} bad status, ${r.errors} errors, ${r.readErrors} read errors)` : ''),
          );
        } catch (e) {
          row.status = 'error';
          row.note = e instanceof Error ? e.message.split('\n')[0] : String(e);
          ctx.log(`  ${c}: ${row.note}`);
        }
      }
    }
  };
  try {
    if (ctx.launcher && contenders.some((c) => kindOf(c) === 'sidecar')) {
      await withSidecar(ctx, 'sidecar-json', measureAll).catch(async (e: unknown) => {
        const msg = e instanceof Error ? e.message.split('\n')[0] : String(e);
        ctx.report.notes.push(`sidecar failed to start for the JSON workload: ${msg}`);
        for (const r of rows.values()) if (r.kind === 'sidecar' && r.status === 'ok') Object.assign(r, { status: 'error', note: msg });
        await measureAll(undefined);
      });
    } else {
      await measureAll(undefined);
    }
  } finally {
    for (const a of anchors.values()) await ctx.procs.stop(a.child);
    if (relay) await ctx.procs.stop(relay.child);
    if (infoSidecar) await ctx.procs.stop(infoSidecar.child, 'SIGTERM', 10_000);
  }
  for (const row of rows.values()) {
    if (row.status !== 'ok') continue;
    if (row.rounds.length === 0) {
      row.status = 'error';
      row.note ??= 'not measured';
      continue;
    }
    const pick = (f: (r: RoundResult) => number): number => median(row.rounds.map(f));
    const perReq = (ms: number | undefined, r: RoundResult): number => (ms !== undefined && r.requests > 0 ? (ms * 1000) / r.requests : NaN);
    const cpu = row.rounds.map((r) => perReq(r.proxyCpuMs, r)).filter((x) => Number.isFinite(x));
    const vcpu = row.rounds.map((r) => perReq(r.vaultCpuMs, r)).filter((x) => Number.isFinite(x));
    if (cpu.length) row.cpuUsPerReq = median(cpu);
    if (vcpu.length) row.vaultCpuUsPerReq = median(vcpu);
    row.rps = pick((r) => r.rps);
    row.p50Ms = pick((r) => r.p50Ms);
    row.p99Ms = pick((r) => r.p99Ms);
    row.badStatus = row.rounds.reduce((a, r) => a + r.badStatus, 0);
    row.errors = row.rounds.reduce((a, r) => a + r.errors, 0);
    row.readErrors = row.rounds.reduce((a, r) => a + r.readErrors, 0);
  }
}

/** SSE through the sidecar (cache-hit route) against the upstream directly. */
export async function runSse(ctx: Ctx): Promise<void> {
  const o = { streams: ctx.opts.sseStreams, events: ctx.opts.sseEvents, intervalMs: ctx.opts.sseIntervalMs };
  const direct = await measureSse({ port: ctx.upstream.http, base: '', headers: { authorization: `Bearer ${ctx.token}` } }, o);
  ctx.report.sse.push({ name: 'direct', result: direct });
  if (!ctx.launcher) {
    ctx.report.sse.push({ name: 'sidecar', error: 'sidecar not runnable' });
    return;
  }
  await withSidecar(ctx, 'sidecar-sse', async (sc) => {
    const r = await measureSse({ port: sc.port, base: `http://${HOSTS.stream}`, host: HOSTS.stream }, o);
    ctx.report.sse.push({ name: 'sidecar', result: r });
  }).catch((e: unknown) => ctx.report.sse.push({ name: 'sidecar', error: e instanceof Error ? e.message.split('\n')[0] : String(e) }));
  for (const s of ctx.report.sse) {
    if (s.result) ctx.log(`  ${s.name.padEnd(8)} TTFE p50 ${s.result.ttfeP50Ms.toFixed(2)} ms, held back ${s.result.heldBack}`);
  }
}

/** 200 MiB (by default) each way, direct and through a fresh sidecar whose RSS is sampled. */
export async function runStream(ctx: Ctx): Promise<void> {
  const bytes = ctx.opts.streamMib * MB;
  const timeoutMs = Math.max(60_000, ctx.opts.streamMib * 1000);
  const s: NonNullable<Report['stream']> = { mib: ctx.opts.streamMib, errors: [] };
  ctx.report.stream = s;
  const direct: StreamTarget = { port: ctx.upstream.http, base: '', headers: { authorization: `Bearer ${ctx.token}` } };
  const err = (what: string) => (e: unknown) => {
    s.errors.push(`${what}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
    return undefined;
  };
  s.direct = {};
  s.direct.download = await download(direct, bytes, timeoutMs).catch(err('direct download'));
  s.direct.upload = await upload(direct, bytes, timeoutMs).catch(err('direct upload'));
  if (!ctx.launcher) {
    s.errors.push('sidecar not runnable');
    return;
  }
  await withSidecar(ctx, 'sidecar-stream', async (sc) => {
    const via: StreamTarget = { port: sc.port, base: `http://${HOSTS.stream}`, host: HOSTS.stream };
    await request({ port: sc.port, path: `http://${HOSTS.stream}/json`, host: HOSTS.stream }).catch(() => undefined);
    const before = memoryOf(sc.child.pid);
    const baselineRss = before?.rss ?? 0;
    const baselineHwm = before?.hwm ?? 0;
    let sampler = new RssSampler(sc.child.pid);
    const dl = await download(via, bytes, timeoutMs).catch(err('sidecar download'));
    const downloadMaxRss = sampler.stop().maxRss;
    sampler = new RssSampler(sc.child.pid);
    const ul = await upload(via, bytes, timeoutMs).catch(err('sidecar upload'));
    const last = sampler.stop();
    s.sidecar = { download: dl, upload: ul, baselineRss, baselineHwm, downloadMaxRss, uploadMaxRss: last.maxRss, hwm: last.hwm };
    ctx.log(
      `  sidecar download ${dl ? dl.mibPerS.toFixed(0) : '-'} MiB/s, upload ${ul ? ul.mibPerS.toFixed(0) : '-'} MiB/s, VmHWM ${(last.hwm / MB).toFixed(1)} MiB`,
    );
  }).catch(err('sidecar'));
}

/** N used-then-idle keep-alive connections held open on a fresh sidecar; its RSS after they settle. */
export async function runIdle(ctx: Ctx): Promise<void> {
  if (!ctx.launcher) {
    ctx.report.notes.push('idle: skipped, sidecar not runnable');
    return;
  }
  await withSidecar(ctx, 'sidecar-idle', async (sc) => {
    const t = { port: sc.port, path: `http://${HOSTS.cached}/json`, host: HOSTS.cached };
    // Idle after start (issue 19): ready, no request yet, a moment to settle.
    await sleep(2000);
    const startRss = memoryOf(sc.child.pid)?.rss ?? 0;
    await request({ ...t }).catch(() => undefined);
    await sleep(300);
    const baselineRss = memoryOf(sc.child.pid)?.rss ?? 0;
    const set = await openIdle(t, ctx.opts.idleConns, 50, 60_000);
    try {
      await sleep(2000);
      const m = memoryOf(sc.child.pid);
      ctx.report.idle = {
        requested: ctx.opts.idleConns,
        opened: set.opened,
        failed: set.failed,
        firstError: set.firstError,
        stillOpen: set.opened - set.closedByPeer(),
        startRss,
        baselineRss,
        rss: m?.rss ?? 0,
        hwm: m?.hwm ?? 0,
      };
      ctx.log(`  ${set.opened} open, RSS ${((m?.rss ?? 0) / MB).toFixed(1)} MiB (before ${(baselineRss / MB).toFixed(1)} MiB)`);
    } finally {
      set.closeAll();
    }
  }).catch((e: unknown) => ctx.report.notes.push(`idle: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`));
}

/** The cache-hit path under load in a sidecar started with --cpu-prof; the profile is kept in bench/results/. */
export async function runProfile(ctx: Ctx): Promise<void> {
  if (!ctx.launcher) {
    ctx.report.notes.push('profile: skipped, sidecar not runnable');
    return;
  }
  const dir = join(ctx.tmp, 'cpuprof');
  mkdirSync(dir, { recursive: true });
  const loadOpts = { generator: ctx.opts.generator, connections: ctx.opts.connections, cpu: ctx.genCpu, tmpDir: ctx.tmp };
  let rps = 0;
  let window: { fromUs: number; toUs: number } | undefined;
  const nowUs = (): number => Number(process.hrtime.bigint() / 1000n);
  await withSidecar(
    ctx,
    'sidecar-profile',
    async (sc) => {
      const t = targetFor(ctx, 'cache-hit', sc, undefined);
      const bad = await probe(ctx, t);
      if (bad) throw new Error(bad);
      await warmUp(ctx, t, loadOpts);
      const fromUs = nowUs();
      rps = (await runLoad(ctx.procs, t, ctx.opts.durationS, loadOpts)).rps;
      window = { fromUs, toUs: nowUs() };
    },
    ['--cpu-prof', '--cpu-prof-dir', dir],
  ).catch((e: unknown) => ctx.report.notes.push(`profile: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`));
  const f = readdirSync(dir).find((n) => n.endsWith('.cpuprofile'));
  if (!f) {
    ctx.report.notes.push('profile: no .cpuprofile was written (does the sidecar exit cleanly on SIGTERM?)');
    return;
  }
  const dest = join(ctx.root, 'bench', 'results', `${ctx.stamp}-cache-hit.cpuprofile`);
  mkdirSync(join(ctx.root, 'bench', 'results'), { recursive: true });
  copyFileSync(join(dir, f), dest);
  ctx.report.profile = analyseProfile(dest, 20, window);
  ctx.report.notes.push(`profile: cache-hit under --cpu-prof ran at ${Math.round(rps)} req/s; profile kept at ${dest}` +
      (window ? ` (load window: --window ${window.fromUs},${window.toUs})` : ''));
}
