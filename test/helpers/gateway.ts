/**
 * Test helper for gateway mode: a development vault that knows several agent identities
 * (the sidecar's own, `gateway`, plus one key per extra identity, each registered with
 * its public key), one or two echo upstreams and a sidecar whose routes.yaml is written
 * from the test's YAML. `${ECHO}` (`${ECHO_PORT}`: its port), `${ECHO2}` (`${ECHO2_PORT}`: its port) and `${KEY:<identity>}` (that identity's
 * key file) are substituted. Logs, error bodies, credentials and every proxy token the
 * test declares are recorded as evidence for the suite-wide no-leak check.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Client, request, type Dispatcher } from 'undici';
import { startSidecar, type Sidecar } from '../../src/app.js';
import { parseConfig } from '../../src/config/load.js';
import type { DevVaultConfig } from '../../src/devvault/config.js';
import { startDevVault, type DevVault } from '../../src/devvault/server.js';
import { bytesToHex } from '../../src/vault/hex.js';
import { publicKeyFromSeed, writeKeyFile } from '../../src/vault/keys.js';
import { ALLOW_ALL } from './devvault.js';
import { startEcho, type Echo } from './echo.js';
import { recordEvidence } from './evidence.js';

export interface GatewayOptions {
  /** Vault identities besides `gateway` (the top-level one), each with its own key. */
  readonly identities: readonly string[];
  readonly credentials: Record<string, string>;
  readonly policies?: DevVaultConfig['policies'];
  /** routes:, agents:, egress: ... (below version/listen/admin/vault). */
  readonly yaml: string;
  /** Proxy tokens used by the test: recorded so the no-leak check searches for them. */
  readonly tokens: readonly string[];
  /** Rate-limit clock. */
  readonly now?: () => number;
  /** prom-client's default process metrics (off: tests start many sidecars). */
  readonly defaultMetrics?: boolean;
}

export interface Gateway {
  readonly sidecar: Sidecar;
  readonly vault: DevVault;
  readonly echo: Echo;
  readonly echo2: Echo;
  readonly proxyUrl: string;
  readonly adminUrl: string;
  readonly logs: string[];
  readonly configPath: string;
  requestLines(): Array<Record<string, unknown>>;
  /** Rewrite routes.yaml with new YAML (same substitutions) and reload it. */
  reload(yaml: string): Promise<void>;
  /** One metric value from /metrics (`name{labels}` as printed), 0 when absent. */
  metric(series: string): Promise<number>;
  close(): Promise<void>;
}

export function sha256(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** A fresh random proxy token (URL-safe, so it also works as a path segment). */
export function newToken(label: string): string {
  return `pt-${label}-${randomBytes(18).toString('hex')}`;
}

export async function startGateway(opts: GatewayOptions): Promise<Gateway> {
  const dir = await mkdtemp(join(tmpdir(), 'sanctum-gw-'));
  const keys: Record<string, string> = {};
  const agents: NonNullable<DevVaultConfig['agents']> = {};
  for (const id of ['gateway', ...opts.identities]) {
    const seed = new Uint8Array(randomBytes(32));
    keys[id] = join(dir, `${id}.key`);
    await writeKeyFile(keys[id], seed);
    agents[id] = { public_key: bytesToHex(publicKeyFromSeed(seed)) };
  }
  const credentials: NonNullable<DevVaultConfig['credentials']> = {};
  for (const [path, value] of Object.entries(opts.credentials)) credentials[path] = { value };
  const vault = await startDevVault({
    config: { agents, credentials, policies: opts.policies ?? ALLOW_ALL, allow_loopback: true },
    listen: { host: '127.0.0.1', port: 0 },
    banner: false,
    log: () => undefined,
  });
  const echo = await startEcho();
  const echo2 = await startEcho();
  const addr = vault.address as { host: string; port: number };
  const render = (yaml: string): string =>
    [
      'version: 1',
      'listen: 127.0.0.1:0',
      'admin: 127.0.0.1:0',
      `vault: { agent: gateway, tcp: "${addr.host}:${addr.port}", key_file: ${JSON.stringify(keys.gateway)}, timeout: 1s }`,
      yaml
        .replaceAll('${ECHO}', echo.origin)
        .replaceAll('${ECHO_PORT}', String(echo.port))
        .replaceAll('${ECHO2}', echo2.origin)
        .replaceAll('${ECHO2_PORT}', String(echo2.port))
        .replace(/\$\{KEY:([a-z0-9_-]+)\}/g, (_m, id: string) => JSON.stringify(keys[id] ?? `missing-${id}`)),
    ].join('\n');
  const configPath = join(dir, 'routes.yaml');
  const text = render(opts.yaml);
  await writeFile(configPath, text);
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb): void {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') logs.push(line);
      cb();
    },
  });
  const log = pino({ level: 'debug', messageKey: 'msg', formatters: { level: (l) => ({ level: l }) } }, sink);
  const sidecar = await startSidecar({
    config: parseConfig(text, configPath, {}),
    configPath,
    log,
    defaultMetrics: opts.defaultMetrics ?? false,
    env: {},
    ...(opts.now === undefined ? {} : { now: opts.now }),
  });
  await sidecar.vault.whenReady(5000);
  const errorBodies: string[] = [];
  sidecar.server.prependListener('request', (_req, res: ServerResponse) => {
    const end = res.end.bind(res) as (...a: unknown[]) => unknown;
    (res as unknown as { end: (...a: unknown[]) => unknown }).end = (...a: unknown[]) => {
      const body = typeof a[0] === 'string' || Buffer.isBuffer(a[0]) ? String(a[0]) : '';
      if (res.statusCode >= 400 && body.startsWith('{"error":{"code":')) errorBodies.push(body);
      return end(...a);
    };
  });
  const adminUrl = `http://127.0.0.1:${sidecar.admin!.port}`;
  return {
    sidecar,
    vault,
    echo,
    echo2,
    proxyUrl: `http://127.0.0.1:${sidecar.proxy.port}`,
    adminUrl,
    logs,
    configPath,
    requestLines: () => logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((o) => o.msg === 'request'),
    async reload(yaml: string): Promise<void> {
      await writeFile(configPath, render(yaml));
      await sidecar.reload();
    },
    async metric(series: string): Promise<number> {
      const res = await request(`${adminUrl}/metrics`);
      const line = (await res.body.text()).split('\n').find((l) => l.startsWith(`${series} `));
      return line === undefined ? 0 : Number(line.slice(series.length + 1));
    },
    async close(): Promise<void> {
      await sidecar.close(2000);
      recordEvidence('log', logs);
      recordEvidence('error-body', errorBodies);
      recordEvidence('secret', [...Object.values(opts.credentials), ...opts.tokens]);
      await Promise.all([echo.close(), echo2.close(), vault.close()]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** GET (or another method) through `dispatcher`; the status, headers and parsed JSON (or text) body. */
export async function call(
  url: string,
  opts: { dispatcher?: Dispatcher; method?: Dispatcher.HttpMethod; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; json: Record<string, unknown> | null; text: string }> {
  const res = await request(url, {
    method: opts.method ?? (opts.body === undefined ? 'GET' : 'POST'),
    ...(opts.dispatcher ? { dispatcher: opts.dispatcher } : {}),
    ...(opts.headers ? { headers: opts.headers } : {}),
    ...(opts.body !== undefined ? { body: opts.body } : {}),
  });
  const text = await res.body.text();
  let json: Record<string, unknown> | null = null;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = null;
  }
  return { status: res.statusCode, headers: res.headers, json, text };
}

/**
 * An absolute-form request sent straight to the proxy on `client` (HTTP_PROXY style),
 * with whatever Proxy-Authorization the test wants (undici's ProxyAgent refuses a 407).
 */
export async function viaProxy(
  client: Dispatcher,
  url: string,
  opts: { auth?: string; method?: Dispatcher.HttpMethod; headers?: Record<string, string>; body?: string | Buffer; signal?: AbortSignal } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; json: Record<string, unknown> | null; text: string }> {
  const u = new URL(url);
  const res = await client.request({
    method: opts.method ?? (opts.body === undefined ? 'GET' : 'POST'),
    path: url,
    headers: { host: u.host, ...(opts.auth !== undefined ? { 'proxy-authorization': opts.auth } : {}), ...opts.headers },
    ...(opts.body !== undefined ? { body: opts.body } : {}),
    ...(opts.signal !== undefined ? { signal: opts.signal } : {}),
  });
  const text = await res.body.text();
  let json: Record<string, unknown> | null = null;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = null;
  }
  return { status: res.statusCode, headers: res.headers, json, text };
}
