/**
 * The system under test: finds a runnable sidecar (the built `dist/` when it is up to
 * date, else a fresh `npm run build`, else a build of the last commit in a temporary
 * directory, else `tsx src/main.ts`), makes a throw-away
 * agent key, development vault file and routes.yaml, and starts the development vault
 * and the sidecar on loopback ephemeral ports. The sidecar is pinned to its own CPU
 * and runs on the node binary chosen for it (by default the Node 24 the image ships);
 * the vault, an outside service, sits with the upstream and the load generator and runs
 * on the harness's node.
 */
import { existsSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SHIPPED_ENV, chartDefaults, newestMtime } from '../../scripts/shipped-runtime.mjs';
import { nodeVersionOf } from '../../scripts/node24.mjs';
import { request } from './http.js';
import { freePort, type Processes, runSync, sleep, type Spawned, waitForPort } from './proc.js';

export type SidecarMode = 'auto' | 'dist' | 'head' | 'tsx';

/** How to launch the sidecar's CLI: `node [pre...] entry ...`. */
export interface SidecarLauncher {
  readonly kind: 'dist' | 'head' | 'tsx';
  /** The node binary that runs the sidecar. */
  readonly node: string;
  /** Node flags before the entry (`--import tsx` for source). */
  readonly pre: readonly string[];
  readonly entry: string;
  readonly note: string;
}

/** Hosts of the routes in the generated routes.yaml (they never resolve: each route names its upstream). */
export const HOSTS = {
  cached: 'cached.bench.test',
  /** The same cached route with `response_guard: off`: the guard's cost is the difference. */
  cachedNoGuard: 'cached-noguard.bench.test',
  nocache: 'nocache.bench.test',
  delegate: 'delegate.bench.test',
  stream: 'stream.bench.test',
} as const;
/** Base-URL prefix route. */
export const PREFIX = '/bench';

function helpWorks(node: string, root: string, pre: readonly string[], entry: string): string | undefined {
  const r = runSync(node, [...pre, entry, '--help'], 60_000, { cwd: root });
  return r.status === 0 ? undefined : `exit ${r.status}: ${(r.stderr || r.stdout).trim().split('\n').slice(-5).join(' | ')}`;
}

/**
 * Builds the last commit (`git archive HEAD`) in `dir`, for when the work tree holds
 * someone's unfinished change that does not compile. Returns the launcher or why not.
 */
function buildHead(node: string, root: string, dir: string, log: (s: string) => void, ref = 'HEAD'): SidecarLauncher | string {
  const rev = runSync('git', ['rev-parse', '--short', '--verify', `${ref}^{commit}`], 10_000, { cwd: root }).stdout.trim();
  if (!rev) return `no such commit: ${ref}`;
  log(`building commit ${rev} in ${dir} ...`);
  mkdirSync(dir, { recursive: true });
  const files = ['src', 'package.json', 'tsconfig.json', 'tsconfig.build.json'];
  const tar = runSync('sh', ['-c', `git archive ${rev} ${files.join(' ')} | tar -x -C "${dir}"`], 60_000, { cwd: root });
  if (tar.status !== 0) return `git archive failed: ${tar.stderr.trim()}`;
  if (!existsSync(join(dir, 'node_modules'))) symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const b = runSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], 300_000, { cwd: dir });
  if (b.status !== 0) return `build of ${rev} failed: ${(b.stdout + b.stderr).trim().split('\n').slice(0, 3).join(' | ')}`;
  const entry = join(dir, 'dist', 'main.js');
  const why = helpWorks(node, dir, [], entry);
  return why === undefined ? { kind: 'head', node, pre: [], entry, note: `commit ${rev}, built apart from the work tree` } : `head: ${why}`;
}

/**
 * A runnable sidecar, or the reason there is none. `auto` prefers the built dist when
 * it is newer than src/, otherwise builds the work tree, otherwise the last commit;
 * the last resort runs the source with tsx (slower: source maps, no build).
 */
export function findSidecar(
  node: string,
  root: string,
  mode: SidecarMode,
  log: (s: string) => void,
  tmp: string,
  rev?: string,
): SidecarLauncher | string {
  const src = join(root, 'src', 'main.ts');
  const dist = join(root, 'dist', 'main.js');
  if (!existsSync(src) && !existsSync(dist)) return 'no src/main.ts or dist/main.js yet';
  const tryDist = (note: string): SidecarLauncher | string => {
    const why = existsSync(dist) ? helpWorks(node, root, [], dist) : 'dist/main.js missing';
    return why === undefined ? { kind: 'dist', node, pre: [], entry: dist, note } : `dist: ${why}`;
  };
  const tryTsx = (): SidecarLauncher | string => {
    const why = helpWorks(node, root, ['--import', 'tsx'], src);
    return why === undefined
      ? { kind: 'tsx', node, pre: ['--import', 'tsx'], entry: src, note: 'source via tsx (not built)' }
      : `tsx: ${why}`;
  };
  if (mode === 'tsx') return tryTsx();
  if (mode === 'dist') return tryDist('dist (as found)');
  if (mode === 'head') return buildHead(node, root, join(tmp, 'head'), log, rev ?? 'HEAD');
  const fresh = existsSync(dist) && existsSync(join(root, 'src')) && statSync(dist).mtimeMs >= newestMtime(join(root, 'src'));
  if (fresh) {
    const d = tryDist('dist (up to date with src)');
    if (typeof d !== 'string') return d;
  }
  log('building the sidecar (npm run build) ...');
  const b = runSync('npm', ['run', '--silent', 'build'], 300_000, { cwd: root });
  if (b.status === 0) {
    const d = tryDist('dist (freshly built)');
    if (typeof d !== 'string') return d;
  } else {
    log(`npm run build failed (exit ${b.status}): the work tree does not compile`);
    log((b.stdout + b.stderr).trim().split('\n').slice(0, 5).join('\n'));
  }
  const h = buildHead(node, root, join(tmp, 'head'), log);
  if (typeof h !== 'string') return h;
  log(`${h}; trying the source with tsx`);
  const t = tryTsx();
  return typeof t === 'string' ? `no runnable sidecar: build exit ${b.status}; ${h}; ${t}` : t;
}

export interface SidecarSetup {
  readonly dir: string;
  readonly launcher: SidecarLauncher;
  readonly vault: Spawned;
  readonly vaultPort: number;
  readonly token: string;
  readonly fastPort: number;
  readonly httpPort: number;
}

/** Generates the agent key and dev-vault file, and starts the development vault. */
export async function startVault(
  procs: Processes,
  root: string,
  dir: string,
  launcher: SidecarLauncher,
  opts: { cpu: number | undefined; token: string; fastPort: number; httpPort: number },
): Promise<SidecarSetup> {
  mkdirSync(dir, { recursive: true });
  const keyFile = join(dir, 'bench.key');
  const kg = runSync(process.execPath, [...launcher.pre, launcher.entry, 'keygen', 'bench-agent', '--out', keyFile, '--force'], 60_000, {
    cwd: root,
  });
  const hex = [...`${kg.stdout}\n${kg.stderr}`.matchAll(/\b[0-9a-f]{64}\b/gi)].pop()?.[0];
  if (kg.status !== 0 || !hex) throw new Error(`keygen failed (exit ${kg.status}): ${kg.stderr || kg.stdout}`);
  const vaultPort = await freePort();
  writeFileSync(
    join(dir, 'dev-vault.yaml'),
    `# written by bench/lib/sidecar.ts
listen: 127.0.0.1:${vaultPort}
agents:
  bench-agent: { public_key: ${hex} }
credentials:
  bench/key: { value: ${opts.token} }
policies:
  - { name: bench, principal: "agent:*", resources: ["*"], actions: [use, retrieve, list] }
allow_loopback: true
`,
  );
  const vault = procs.spawn(
    'dev-vault',
    process.execPath,
    [...launcher.pre, launcher.entry, 'dev-vault', '--file', join(dir, 'dev-vault.yaml'), '--listen', `127.0.0.1:${vaultPort}`],
    { cpu: opts.cpu, cwd: root, env: { ...process.env, SANCTUM_SIDECAR_LOG_LEVEL: 'warn' } },
  );
  await waitForPort(vaultPort, 30_000, vault);
  return { dir, launcher, vault, vaultPort, token: opts.token, fastPort: opts.fastPort, httpPort: opts.httpPort };
}

function routesYaml(s: SidecarSetup, listen: number, admin: number): string {
  const fast = `http://127.0.0.1:${s.fastPort}`;
  const slow = `http://127.0.0.1:${s.httpPort}`;
  const common = `    allow_plaintext: true
    credential: bench/key
    inject: { header_type: bearer }`;
  return `# written by bench/lib/sidecar.ts
version: 1
listen: 127.0.0.1:${listen}
admin: 127.0.0.1:${admin}
vault:
  agent: bench-agent
  tcp: 127.0.0.1:${s.vaultPort}
  key_file: ${join(s.dir, 'bench.key')}
egress:
  unmatched: deny
routes:
  - name: cached
    match: { host: ${HOSTS.cached} }
    upstream: ${fast}
${common}
    cache_ttl: 60s
  - name: cachednoguard
    match: { host: ${HOSTS.cachedNoGuard} }
    upstream: ${fast}
${common}
    cache_ttl: 60s
    response_guard: off
  - name: nocache
    match: { host: ${HOSTS.nocache} }
    upstream: ${fast}
${common}
    cache_ttl: 0s
  - name: delegate
    match: { host: ${HOSTS.delegate} }
    upstream: ${fast}
${common}
    mode: delegate
  - name: stream
    match: { host: ${HOSTS.stream} }
    upstream: ${slow}
${common}
    cache_ttl: 60s
  - name: baseurl
    prefix: ${PREFIX}
    upstream: ${fast}
${common}
    cache_ttl: 60s
`;
}

export interface SidecarRunning {
  readonly child: Spawned;
  readonly port: number;
  readonly adminPort: number;
  readonly ready: boolean;
}

/** Node flags from a `#!/usr/bin/env -S node --flag ...` line, so the bench runs the sidecar as its binary would. */
function shebangFlags(entry: string): string[] {
  const first = readFileSync(entry, 'utf8').split('\n', 1)[0] ?? '';
  const m = /^#!.*\bnode((?:\s+--[\w-]+(?:=\S+)?)*)\s*$/.exec(first);
  return m ? m[1]!.trim().split(/\s+/).filter(Boolean) : [];
}

// --- issue 19: the sidecar as shipped (image environment, the chart's NODE_OPTIONS) -------
/**
 * How the bench runs the sidecar, as the image and the chart run it: the node flags on
 * the entry's shebang (the image's ENTRYPOINT has the same), the image's environment
 * (SHIPPED_ENV) and the NODE_OPTIONS the chart sets for its default memory limit.
 * `describe` is printed at the top of the results: memory figures depend on all of it.
 */
export function shippedRuntime(root: string, launcher: SidecarLauncher): { env: Record<string, string>; describe: string } {
  const chart = chartDefaults(root);
  const env = shippedEnv(root);
  const entry = launcher.entry.startsWith(`${root}/`) ? launcher.entry.slice(root.length + 1) : launcher.entry;
  const vars = Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ');
  return {
    env,
    describe: `node ${nodeVersionOf(launcher.node) ?? '?'} (${launcher.node}) ${[...shebangFlags(launcher.entry), ...launcher.pre].join(' ')} ${entry} (${launcher.note}); ${vars} (the chart's, for its default limit ${chart.limit})`,
  };
}
/** The image's environment and the chart's default NODE_OPTIONS (also given to node-relay, so the floor runs under the same V8 and malloc settings). */
export function shippedEnv(root: string): Record<string, string> {
  return { ...SHIPPED_ENV, NODE_OPTIONS: chartDefaults(root).nodeOptions };
}
// --- end issue 19 ----------------------------------------------------------------------------

/** Starts one sidecar process (pinned), waits for its listener and, briefly, for /readyz. */
export async function startSidecar(
  procs: Processes,
  root: string,
  s: SidecarSetup,
  opts: {
    cpu: number | undefined;
    name: string;
    nodeFlags?: readonly string[];
    /** Default `warn` (no line per request); `info` writes the canonical line of every request to `stdoutFile`. */
    logLevel?: 'warn' | 'info';
    stdoutFile?: string;
  },
): Promise<SidecarRunning> {
  const logLevel = opts.logLevel ?? 'warn';
  const port = await freePort();
  const adminPort = await freePort();
  const config = join(s.dir, `${opts.name}.routes.yaml`);
  writeFileSync(config, routesYaml(s, port, adminPort));
  const child = procs.spawn(
    opts.name,
    s.launcher.node,
    [
      // Run it as shipped: the node flags on the entry's shebang (the image's ENTRYPOINT has the same).
      ...shebangFlags(s.launcher.entry),
      ...(opts.nodeFlags ?? []),
      ...s.launcher.pre,
      s.launcher.entry,
      'run',
      '--config',
      config,
      '--listen',
      `127.0.0.1:${port}`,
      '--admin',
      `127.0.0.1:${adminPort}`,
      '--log-level',
      logLevel,
    ],
    {
      cpu: opts.cpu,
      cwd: root,
      env: { ...process.env, ...shippedRuntime(root, s.launcher).env, SANCTUM_SIDECAR_LOG_LEVEL: logLevel, NODE_ENV: 'production' },
      ...(opts.stdoutFile === undefined ? {} : { stdoutFile: opts.stdoutFile }),
    },
  );
  await waitForPort(port, 30_000, child);
  let ready = false;
  const deadline = Date.now() + 10_000;
  while (!ready && Date.now() < deadline && child.exitCode() === undefined) {
    ready = await request({ port: adminPort, path: '/readyz', timeoutMs: 2000 }).then(
      (r) => r.status === 200,
      () => false,
    );
    if (!ready) await sleep(100);
  }
  return { child, port, adminPort, ready };
}
