/**
 * A sidecar rig for the hostile-input, fault and soak suites. Unlike `stack.ts` it
 * gives each route its own capture upstream (so a credential that lands on the wrong
 * upstream is visible), and a development vault that can be stopped and started again
 * on the same port with the same agent key (vault restarts), or no dev vault at all
 * when a test brings its own fake vault. Everything binds 127.0.0.1:0; logs are
 * captured so tests can search them for secrets.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { startSidecar, type Sidecar } from '../../src/app.js';
import { parseConfig } from '../../src/config/load.js';
import { startDevVault, type DevVault } from '../../src/devvault/server.js';
import { bytesToHex } from '../../src/vault/hex.js';
import { publicKeyFromSeed, writeKeyFile } from '../../src/vault/keys.js';
import { startCaptureUpstream, type CaptureUpstream } from './capture-upstream.js';
import { startVaultRelay, type VaultRelay } from './vault-relay.js';

export const RIG_AGENT = 'rig-agent';

/** A dev vault that keeps its port and agent key across stop()/start(). */
export interface RestartableVault {
  readonly host: string;
  readonly port: number;
  readonly keyFile: string;
  readonly dir: string;
  /** The running dev vault, or null while stopped. */
  readonly dev: DevVault | null;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stop (if running) and remove the key directory. */
  dispose(): Promise<void>;
}

export async function startRestartableVault(credentials: Record<string, string>): Promise<RestartableVault> {
  const dir = await mkdtemp(join(tmpdir(), 'sanctum-rig-'));
  const seed = new Uint8Array(randomBytes(32));
  const keyFile = join(dir, `${RIG_AGENT}.key`);
  await writeKeyFile(keyFile, seed);
  const creds: Record<string, { value: string }> = {};
  for (const [p, v] of Object.entries(credentials)) creds[p] = { value: v };
  let port = 0;
  let dev: DevVault | null = null;
  const start = async (): Promise<void> => {
    if (dev !== null) return;
    dev = await startDevVault({
      config: {
        agents: { [RIG_AGENT]: { public_key: bytesToHex(publicKeyFromSeed(seed)) } },
        credentials: creds,
        policies: [{ name: 'allow-all', principal: 'agent:*', resources: ['*'], actions: ['use', 'retrieve', 'list'] }],
        allow_loopback: true,
      },
      listen: { host: '127.0.0.1', port },
      banner: false,
      log: () => undefined,
    });
    const a = dev.address;
    if ('port' in a) port = a.port;
  };
  await start();
  return {
    host: '127.0.0.1',
    get port() {
      return port;
    },
    keyFile,
    dir,
    get dev() {
      return dev;
    },
    async stop(): Promise<void> {
      const d = dev;
      dev = null;
      await d?.close();
    },
    start,
    async dispose(): Promise<void> {
      const d = dev;
      dev = null;
      await d?.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A key file for a fake vault that accepts any signature. */
export async function throwawayKeyFile(): Promise<{ keyFile: string; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'sanctum-rig-'));
  const keyFile = join(dir, `${RIG_AGENT}.key`);
  await writeKeyFile(keyFile, new Uint8Array(randomBytes(32)));
  return { keyFile, dir };
}

/**
 * The routes most fault tests share: private destinations allowed (everything is on
 * loopback) and one `openai` prefix route to the capture upstream of that name.
 * Further route entries (indented list items) may follow.
 */
export function openaiPrefixRoutes(u: Readonly<Record<string, CaptureUpstream>>, more = ''): string {
  return `
egress:
  block_private_addresses: false
routes:
  - name: openai
    prefix: /openai
    upstream: ${u.openai!.origin}
    allow_plaintext: true
    credential: openai/api-key
${more}`;
}

export interface RigOptions {
  /** Names of capture upstreams to start; their origins are passed to `routes`. */
  readonly upstreams: readonly string[];
  /** The YAML below `vault:` (egress:, routes:, ...), built from the upstreams. */
  readonly routes: (u: Readonly<Record<string, CaptureUpstream>>) => string;
  /** Extra top-level YAML (limits:, ...). */
  readonly extra?: string;
  /** Credentials for the dev vault (path → value). Ignored with `vaultEndpoint`. */
  readonly credentials?: Record<string, string>;
  /** Use this vault instead of a dev vault (fake vaults). */
  readonly vaultEndpoint?: { host: string; port: number };
  /** vault.timeout (default 1s). */
  readonly vaultTimeout?: string;
  /** Wait for the vault to be ready before returning (default true). */
  readonly waitReady?: boolean;
  /** Put a framed relay (counting, garbage-injecting) between the sidecar and the dev vault. */
  readonly relay?: boolean;
}

export interface Rig {
  readonly sidecar: Sidecar;
  readonly ups: Readonly<Record<string, CaptureUpstream>>;
  readonly all: readonly CaptureUpstream[];
  readonly vault: RestartableVault | null;
  readonly relay: VaultRelay | null;
  readonly proxyPort: number;
  readonly adminPort: number;
  readonly adminUrl: string;
  readonly logs: string[];
  readonly configPath: string;
  close(): Promise<void>;
}

export async function startRig(opts: RigOptions): Promise<Rig> {
  const ups: Record<string, CaptureUpstream> = {};
  for (const name of opts.upstreams) ups[name] = await startCaptureUpstream(name);
  let vault: RestartableVault | null = null;
  let keyFile: string;
  let dir: string;
  let endpoint: { host: string; port: number };
  if (opts.vaultEndpoint !== undefined) {
    ({ keyFile, dir } = await throwawayKeyFile());
    endpoint = opts.vaultEndpoint;
  } else {
    vault = await startRestartableVault(opts.credentials ?? {});
    keyFile = vault.keyFile;
    dir = vault.dir;
    endpoint = { host: vault.host, port: vault.port };
  }
  const relay = opts.relay && opts.vaultEndpoint === undefined ? await startVaultRelay(endpoint) : null;
  if (relay !== null) endpoint = { host: '127.0.0.1', port: relay.port };
  const text = [
    'version: 1',
    'listen: 127.0.0.1:0',
    'admin: 127.0.0.1:0',
    'vault:',
    `  agent: ${RIG_AGENT}`,
    `  tcp: ${endpoint.host}:${endpoint.port}`,
    `  key_file: ${JSON.stringify(keyFile)}`,
    `  timeout: ${opts.vaultTimeout ?? '1s'}`,
    opts.extra ?? '',
    opts.routes(ups),
  ].join('\n');
  const configPath = join(dir, 'routes.yaml');
  await writeFile(configPath, text);
  const config = parseConfig(text, configPath, {});
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb): void {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') logs.push(line);
      if (logs.length > 50_000) logs.splice(0, logs.length - 50_000);
      cb();
    },
  });
  const log = pino({ level: 'debug', messageKey: 'msg', formatters: { level: (l) => ({ level: l }) } }, sink);
  const sidecar = await startSidecar({ config, configPath, log, defaultMetrics: false, env: {} });
  if (opts.waitReady ?? true) await sidecar.vault.whenReady(5000);
  const all = Object.values(ups);
  return {
    sidecar,
    ups,
    all,
    vault,
    relay,
    proxyPort: sidecar.proxy.port,
    adminPort: sidecar.admin?.port ?? 0,
    adminUrl: sidecar.admin ? `http://127.0.0.1:${sidecar.admin.port}` : '',
    logs,
    configPath,
    async close(): Promise<void> {
      await sidecar.close(1000);
      for (const u of all) await u.close();
      await relay?.close();
      if (vault !== null) await vault.dispose();
      else await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Poll `fn` every `everyMs` until it returns true, at most `maxTries` times. Returns the try that succeeded, or -1. */
export async function pollUntil(fn: () => Promise<boolean> | boolean, everyMs: number, maxTries: number): Promise<number> {
  for (let i = 0; i < maxTries; i++) {
    if (await fn()) return i;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return -1;
}

/** Sockets (TCP client and server-side) currently alive in this process. */
export function openTcpSockets(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;
}
