/**
 * How the sidecar ships, in one place for everything that measures it (the soak, the
 * bench) and for the test that keeps the shipping files honest: the node flags the
 * binary runs with, the Node major the image ships, which node binary to measure on,
 * and a built `dist/` that is not older than `src/`.
 *
 * SHIPPED_NODE_FLAGS and SHIPPED_ENV are the source of truth. The same values are spelled
 * out where they cannot be read from here: the shebang of src/main.ts (tsc copies it to
 * dist/main.js), the Dockerfile ENTRYPOINT and ENV, and the chart's NODE_OPTIONS rule;
 * test/packaging/node-flags.test.ts fails when any of them differs. Only flags that hold
 * for every container size belong in SHIPPED_NODE_FLAGS; the heap limit depends on the
 * memory limit, so the chart sets it (nodeOptionsForLimit) and the soak and the bench
 * apply the chart's default.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ensureNode24, NODE24_VERSION } from './node24.mjs';

/**
 * Node flags of the shipped binary.
 * - `--max-semi-space-size=1`: a proxy's garbage is mostly short-lived socket buffers
 *   whose memory lives outside the V8 heap and is freed only when a scavenge collects the
 *   small objects that hold them; a 1 MiB young generation (V8's default grows to 16 MiB
 *   per semi-space) scavenges often enough that little of it piles up. Measured on Node
 *   24: 200 MiB upload peak 160 -> 129 MiB against 2 MiB, idle 1.5 MiB lower.
 * - `--heap-growing-percent=100`: the old generation may grow to twice its live size
 *   between full collections. Without a heap limit V8 allows up to 4x (the soak's RSS
 *   went to 175 MiB); with the limit the chart sets it drops to 1.3x, and a 200 MiB stream
 *   then took 10-15 full collections instead of 1-5 (sidecar/direct download throughput
 *   0.55 against 0.65). 2x holds the soak at about 110 MiB and keeps streams cheap.
 */
export const SHIPPED_NODE_FLAGS = Object.freeze(['--max-semi-space-size=1', '--heap-growing-percent=100']);

/**
 * Environment of the shipped image (Dockerfile ENV), for glibc's malloc, which holds
 * V8's compiler memory (zones, tens of MiB at a time while it optimizes) and node's
 * native buffers. MALLOC_ARENA_MAX=2: glibc otherwise gives each allocating thread
 * (V8's compiler and GC helpers, libuv's pool) its own arena and rarely returns their
 * free pages. MALLOC_TRIM_THRESHOLD_=131072: return free memory at the top of the heap
 * above 128 KiB instead of a threshold glibc raises as large blocks come and go. Each
 * measured about 5 MiB less RSS under the soak's load, at the same CPU per request.
 */
export const SHIPPED_ENV = Object.freeze({ MALLOC_ARENA_MAX: '2', MALLOC_TRIM_THRESHOLD_: '131072' });

/**
 * NODE_OPTIONS for a container with a memory limit of `limitMiB`: V8's old space gets
 * half of it. Without it V8 sizes its heap from the memory it sees and lets it grow past
 * the container's limit (in a 192 MiB cgroup Node 24 allows 259 MiB), so the kernel kills
 * the process instead of V8 collecting harder; half the limit leaves the other half to
 * node itself (about 55 MiB of the binary's pages), socket buffers and native memory.
 * The chart's template computes the same (test/packaging/node-flags.test.ts).
 * @param {number} limitMiB
 */
export function nodeOptionsForLimit(limitMiB) {
  return `--max-old-space-size=${Math.floor(limitMiB / 2)}`;
}

/**
 * A Kubernetes memory quantity ("192Mi", "1Gi", "200M", "268435456") in MiB.
 * @param {string | number} q
 */
export function quantityToMiB(q) {
  const m = /^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(String(q).trim());
  if (!m) throw new Error(`not a memory quantity: ${q}`);
  const unit = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, k: 1e3, M: 1e6, G: 1e9, T: 1e12 }[m[2] ?? ''] ?? 1;
  return (Number(m[1]) * unit) / 2 ** 20;
}

/**
 * What the chart's default values give the sidecar container: its memory limit and the
 * NODE_OPTIONS derived from it (values.yaml sidecar.resources.limits.memory).
 * @param {string} root
 * @param {'sidecar' | 'gateway'} [role]
 * @returns {{ limit: string; nodeOptions: string }}
 */
export function chartDefaults(root, role = 'sidecar') {
  const values = parse(readFileSync(join(root, 'helm', 'sanctum-sidecar', 'values.yaml'), 'utf8'));
  const limit = values?.[role]?.resources?.limits?.memory;
  if (limit === undefined) throw new Error(`helm values: ${role}.resources.limits.memory is not set`);
  return { limit: String(limit), nodeOptions: nodeOptionsForLimit(quantityToMiB(limit)) };
}

/** The Node major the image ships (Dockerfile RUNTIME_IMAGE nodejsNN; the test checks). */
export const SHIPPED_NODE_MAJOR = 24;

/** Environment variable naming the node binary to measure the sidecar on. */
export const NODE_ENV_VAR = 'SANCTUM_NODE';

/**
 * The node binary to run the sidecar on: `choice` (a `--node PATH` option), else
 * $SANCTUM_NODE, else the pinned Node 24 the image ships (scripts/node24.mjs: cached
 * under .cache/, installed on first use), else, when that cannot be had, the node running
 * this script. `warning` is set when the result is not the shipped major, so that a
 * caller can say so loudly in its first lines.
 * @param {string | undefined} choice
 * @param {NodeJS.ProcessEnv} [env]
 * @param {{ pinned?: () => string }} [opts] where the pinned Node 24 comes from (tests stub it)
 * @returns {{ path: string; version: string; source: string; warning: string | undefined }}
 */
export function resolveNode(choice, env = process.env, opts = {}) {
  const fromEnv = env[NODE_ENV_VAR];
  let path = choice || fromEnv;
  let source = choice ? '--node' : fromEnv ? `$${NODE_ENV_VAR}` : '';
  let fallback = '';
  if (!path) {
    try {
      path = (opts.pinned ?? ensureNode24)();
      source = `the pinned Node ${NODE24_VERSION} (scripts/node24.mjs)`;
    } catch (err) {
      path = process.execPath;
      source = 'the node running this script';
      fallback = ` (the pinned Node ${NODE24_VERSION} could not be had: ${err instanceof Error ? err.message : String(err)})`;
    }
  }
  if (!existsSync(path)) throw new Error(`node binary not found: ${path} (from ${source})`);
  const r = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 30_000 });
  const version = (r.stdout ?? '').trim();
  if (r.status !== 0 || !/^v\d+\./.test(version)) throw new Error(`${path} --version failed (from ${source}): ${(r.stderr ?? '').trim()}`);
  const major = Number(version.slice(1).split('.')[0]);
  const warning =
    major === SHIPPED_NODE_MAJOR
      ? undefined
      : `WARNING: measuring on node ${version} (${source})${fallback}, but the image ships Node ${SHIPPED_NODE_MAJOR}: ` +
        `memory figures differ by tens of MiB between majors. Pass --node PATH or set ${NODE_ENV_VAR} to a Node ${SHIPPED_NODE_MAJOR} binary.`;
  return { path, version, source, warning };
}

/**
 * The newest modification time of any file below `dir` (is a build older than its sources?).
 * @param {string} dir
 */
export function newestMtime(dir) {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    newest = Math.max(newest, st.isDirectory() ? newestMtime(p) : st.mtimeMs);
  }
  return newest;
}

/**
 * The built entry `root/dist/main.js`, running `npm run build` first when it is missing
 * or older than anything under `root/src`. Throws when the build fails: a measurement of
 * something other than what ships is worse than none.
 * @param {string} root
 * @param {(line: string) => void} log
 * @returns {{ entry: string; built: boolean }}
 */
export function ensureDist(root, log) {
  const entry = join(root, 'dist', 'main.js');
  const src = join(root, 'src');
  if (existsSync(entry) && (!existsSync(src) || statSync(entry).mtimeMs >= newestMtime(src))) return { entry, built: false };
  log(existsSync(entry) ? 'dist/ is older than src/: npm run build ...' : 'no dist/ yet: npm run build ...');
  const b = spawnSync('npm', ['run', '--silent', 'build'], { cwd: root, encoding: 'utf8', timeout: 300_000 });
  if (b.status !== 0 || !existsSync(entry)) {
    throw new Error(`npm run build failed (exit ${b.status}):\n${`${b.stdout ?? ''}${b.stderr ?? ''}`.trim().split('\n').slice(0, 10).join('\n')}`);
  }
  return { entry, built: true };
}
