/**
 * How the sidecar ships, in one place for everything that measures it (the soak, the
 * bench) and for the test that keeps the shipping files honest: the node flags the
 * binary runs with, the Node major the image ships, which node binary to measure on,
 * and a built `dist/` that is not older than `src/`.
 *
 * SHIPPED_NODE_FLAGS is the source of truth. The same flags are spelled out where they
 * cannot be read from here: the shebang of src/main.ts (tsc copies it to dist/main.js)
 * and the Dockerfile ENTRYPOINT; test/packaging/node-flags.test.ts fails when either
 * differs. Only flags that hold for every container size belong here; heap limits that
 * depend on the memory limit are the chart's (NODE_OPTIONS from resources.limits.memory).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Node flags of the shipped binary. `--max-semi-space-size=2`: a proxy's garbage is
 * mostly short-lived socket buffers; a 2 MiB young generation (V8's default grows to
 * 16 MiB per semi-space, 3 of them) keeps it from holding tens of MiB between scavenges.
 */
export const SHIPPED_NODE_FLAGS = Object.freeze(['--max-semi-space-size=2']);

/** The Node major the image ships (Dockerfile RUNTIME_IMAGE nodejsNN; the test checks). */
export const SHIPPED_NODE_MAJOR = 24;

/** Environment variable naming the node binary to measure the sidecar on. */
export const NODE_ENV_VAR = 'SANCTUM_NODE';

/**
 * The node binary to run the sidecar on: `choice` (a `--node PATH` option), else
 * $SANCTUM_NODE, else the node running this script. `warning` is set when that node is
 * not the shipped major, so that a caller can say so loudly in its first lines.
 * @param {string | undefined} choice
 * @param {NodeJS.ProcessEnv} [env]
 * @returns {{ path: string; version: string; source: string; warning: string | undefined }}
 */
export function resolveNode(choice, env = process.env) {
  const fromEnv = env[NODE_ENV_VAR];
  const path = choice || fromEnv || process.execPath;
  const source = choice ? '--node' : fromEnv ? `$${NODE_ENV_VAR}` : 'the node running this script';
  if (!existsSync(path)) throw new Error(`node binary not found: ${path} (from ${source})`);
  const r = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 30_000 });
  const version = (r.stdout ?? '').trim();
  if (r.status !== 0 || !/^v\d+\./.test(version)) throw new Error(`${path} --version failed (from ${source}): ${(r.stderr ?? '').trim()}`);
  const major = Number(version.slice(1).split('.')[0]);
  const warning =
    major === SHIPPED_NODE_MAJOR
      ? undefined
      : `WARNING: measuring on node ${version} (${source}), but the image ships Node ${SHIPPED_NODE_MAJOR}: ` +
        `memory figures differ by tens of MiB between majors. Pass --node PATH or set ${NODE_ENV_VAR} to a Node ${SHIPPED_NODE_MAJOR} binary.`;
  return { path, version, source, warning };
}

/** @param {string} dir */
function newestMtime(dir) {
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
