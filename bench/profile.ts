/**
 * Reads a V8 `.cpuprofile` (from `node --cpu-prof`) and summarises where the time went:
 * the top functions by self time, and self time grouped by area (the sidecar's own
 * modules, each npm package, Node internals, V8/GC). The harness calls it after the
 * profile workload; it also runs alone:
 *
 *   node --import tsx bench/profile.ts FILE.cpuprofile [--top 20] [--window FROM_US,TO_US] [--json]
 *
 * A window (microseconds of the monotonic clock, the one `process.hrtime` reads and V8
 * stamps profiles with) keeps only the samples taken under load, leaving out start-up
 * (module loading, schema compilation) and shutdown.
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
  readonly columnNumber: number;
}
interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}
interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples?: readonly number[];
  readonly timeDeltas?: readonly number[];
}

export interface ProfileEntry {
  readonly name: string;
  readonly where: string;
  readonly area: string;
  readonly selfMs: number;
  /** Share of the non-idle time. */
  readonly pct: number;
}

export interface ProfileWindow {
  readonly fromUs: number;
  readonly toUs: number;
}

export interface ProfileSummary {
  readonly file: string;
  readonly window: ProfileWindow | undefined;
  readonly samples: number;
  readonly totalMs: number;
  readonly idleMs: number;
  readonly busyMs: number;
  readonly gcMs: number;
  readonly top: readonly ProfileEntry[];
  /** The sidecar's own functions by inclusive time (self + callees), each sample counted once per function. */
  readonly sidecarInclusive: readonly ProfileEntry[];
  readonly byArea: readonly { area: string; selfMs: number; pct: number }[];
}

/** Short location of a script URL: repo-relative, `pkg/file`, or `node:...`. */
function shortUrl(url: string): string {
  if (!url) return '';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm !== -1) return url.slice(nm + '/node_modules/'.length);
  for (const marker of ['/src/', '/dist/', '/bench/']) {
    const i = url.lastIndexOf(marker);
    if (i !== -1) return url.slice(i + 1);
  }
  return url.replace(/^file:\/\//, '');
}

/** The area a frame belongs to: `sidecar:<dir>`, an npm package, `node:<module>`, or a V8 bucket. */
function areaOf(f: CallFrame): string {
  const url = f.url;
  if (!url) {
    if (f.functionName.startsWith('(')) return f.functionName; // (garbage collector), (program), (idle)
    return '(native)';
  }
  const nm = url.lastIndexOf('/node_modules/');
  if (nm !== -1) {
    const parts = url.slice(nm + '/node_modules/'.length).split('/');
    return parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1] ?? ''}` : (parts[0] ?? '?');
  }
  if (url.startsWith('node:')) {
    const m = /^node:(?:internal\/)?([^/]+(?:\/[^/]+)?)/.exec(url);
    return `node:${m?.[1]?.replace(/\.js$/, '') ?? url}`;
  }
  const m = /\/(?:src|dist)\/(.+)$/.exec(url);
  if (m?.[1]) {
    const dir = m[1].includes('/') ? m[1].slice(0, m[1].indexOf('/')) : m[1].replace(/\.[jt]s$/, '');
    return `sidecar:${dir}`;
  }
  return shortUrl(url);
}

/** Self time per function (by name and location) and per area. */
export function analyseProfile(file: string, topN = 20, window?: ProfileWindow): ProfileSummary {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  for (const n of prof.nodes) byId.set(n.id, n);
  const samples = prof.samples ?? [];
  const deltas = prof.timeDeltas ?? [];
  const selfUs = new Map<number, number>();
  const parent = new Map<number, number>();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const keyOf = (f: CallFrame): string => `${f.functionName}\u0000${f.url ? `${shortUrl(f.url)}:${f.lineNumber + 1}` : ''}`;
  const inclusive = new Map<string, { f: CallFrame; us: number }>();
  // Sample i is taken at startTime + deltas[0..i] and covers the time until sample i+1
  // (the DevTools convention).
  let at = prof.startTime;
  let kept = 0;
  for (let i = 0; i < samples.length; i += 1) {
    at += deltas[i] ?? 0;
    if (window && (at < window.fromUs || at > window.toUs)) continue;
    kept += 1;
    const id = samples[i] ?? 0;
    const dt = Math.max(0, deltas[i + 1] ?? 0);
    selfUs.set(id, (selfUs.get(id) ?? 0) + dt);
    // Inclusive time of the sidecar's own frames on this sample's stack.
    const seen = new Set<string>();
    for (let n: number | undefined = id; n !== undefined; n = parent.get(n)) {
      const f = byId.get(n)?.callFrame;
      if (!f || !/\/(?:src|dist)\//.test(f.url) || f.url.includes('/node_modules/')) continue;
      const k = keyOf(f);
      if (seen.has(k)) continue;
      seen.add(k);
      const e = inclusive.get(k) ?? { f, us: 0 };
      e.us += dt;
      inclusive.set(k, e);
    }
  }
  const fn = new Map<string, { name: string; where: string; area: string; us: number }>();
  const area = new Map<string, number>();
  let totalUs = 0;
  let idleUs = 0;
  let gcUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const f = node.callFrame;
    totalUs += us;
    if (f.functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    if (f.functionName === '(garbage collector)') gcUs += us;
    const a = areaOf(f);
    area.set(a, (area.get(a) ?? 0) + us);
    const where = f.url ? `${shortUrl(f.url)}:${f.lineNumber + 1}` : '';
    const key = `${f.functionName}\u0000${where}`;
    const e = fn.get(key) ?? { name: f.functionName || '(anonymous)', where, area: a, us: 0 };
    e.us += us;
    fn.set(key, e);
  }
  const busyUs = totalUs - idleUs;
  const pct = (us: number): number => (busyUs > 0 ? (100 * us) / busyUs : 0);
  const top = [...fn.values()]
    .sort((x, y) => y.us - x.us)
    .slice(0, topN)
    .map((e) => ({ name: e.name, where: e.where, area: e.area, selfMs: e.us / 1000, pct: pct(e.us) }));
  const sidecarInclusive = [...inclusive.values()]
    .sort((x, y) => y.us - x.us)
    .slice(0, topN)
    .map(({ f, us }) => ({
      name: f.functionName || '(anonymous)',
      where: `${shortUrl(f.url)}:${f.lineNumber + 1}`,
      area: areaOf(f),
      selfMs: us / 1000,
      pct: pct(us),
    }));
  const byArea = [...area.entries()]
    .sort((x, y) => y[1] - x[1])
    .map(([a, us]) => ({ area: a, selfMs: us / 1000, pct: pct(us) }));
  return { file, window, samples: kept, totalMs: totalUs / 1000, idleMs: idleUs / 1000, busyMs: busyUs / 1000, gcMs: gcUs / 1000, top, sidecarInclusive, byArea };
}

/** Human-readable summary: top functions by self time, then time by area. */
export function formatProfile(s: ProfileSummary, areas = 15): string {
  const lines: string[] = [];
  lines.push(
    `CPU profile ${s.file}${s.window ? ' (samples under load only)' : ''}\n  ${s.samples} samples, ${s.totalMs.toFixed(0)} ms: busy ${s.busyMs.toFixed(0)} ms, idle ${s.idleMs.toFixed(0)} ms, GC ${s.gcMs.toFixed(0)} ms (${s.busyMs > 0 ? ((100 * s.gcMs) / s.busyMs).toFixed(1) : '0'}% of busy)`,
  );
  lines.push(`  top ${s.top.length} functions by self time (% of busy):`);
  s.top.forEach((e, i) => {
    lines.push(
      `  ${String(i + 1).padStart(2)}. ${e.pct.toFixed(1).padStart(5)}% ${e.selfMs.toFixed(0).padStart(6)} ms  ${e.name.slice(0, 40).padEnd(40)} ${e.where}`,
    );
  });
  if (s.sidecarInclusive.length) {
    lines.push(`  the sidecar's own functions by inclusive time (self + callees, % of busy):`);
    s.sidecarInclusive.forEach((e, i) => {
      lines.push(
        `  ${String(i + 1).padStart(2)}. ${e.pct.toFixed(1).padStart(5)}% ${e.selfMs.toFixed(0).padStart(6)} ms  ${e.name.slice(0, 40).padEnd(40)} ${e.where}`,
      );
    });
  }
  lines.push('  self time by area:');
  for (const a of s.byArea.slice(0, areas)) {
    lines.push(`      ${a.pct.toFixed(1).padStart(5)}% ${a.selfMs.toFixed(0).padStart(6)} ms  ${a.area}`);
  }
  return lines.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const file = args.find((a, i) => !a.startsWith('--') && args[i - 1] !== '--top' && args[i - 1] !== '--window');
  if (!file) {
    process.stderr.write('usage: node --import tsx bench/profile.ts FILE.cpuprofile [--top N] [--json]\n');
    process.exit(2);
  }
  const topIdx = args.indexOf('--top');
  const top = topIdx !== -1 ? Number(args[topIdx + 1] ?? 20) : 20;
  const winIdx = args.indexOf('--window');
  const [from, to] = (winIdx !== -1 ? (args[winIdx + 1] ?? '') : '').split(',').map(Number);
  const win = from !== undefined && to !== undefined && to > from ? { fromUs: from, toUs: to } : undefined;
  const s = analyseProfile(file, top, win);
  process.stdout.write(args.includes('--json') ? `${JSON.stringify(s, null, 2)}\n` : `${formatProfile(s)}\n`);
}
