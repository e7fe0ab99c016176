/**
 * Starts a whole stack for an integration test, all on loopback port 0: the development
 * vault (real protocol, fresh agent key), an echo upstream, and the sidecar configured
 * from a routes.yaml template. Captures every log line so tests can assert on the
 * canonical line and search for leaked secrets.
 */
import { Writable } from 'node:stream';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { ProxyAgent } from 'undici';
import { startSidecar, type Sidecar, type SidecarOptions } from '../../src/app.js';
import { parseConfig } from '../../src/config/load.js';
import { startTestVault, type TestVaultOptions } from './devvault.js';
import { startEcho, type Echo } from './echo.js';
import { recordEvidence } from './evidence.js';

export const SECRETS = {
  openai: 'sk-live-openai-SECRET-0123456789abcdef',
  anthropic: 'sk-ant-SECRET-fedcba9876543210',
  github: 'ghp_SECRET_github_token_000111222',
  basic: 'svc-user:SECRET-basic-pass',
} as const;

export const PLACEHOLDER = 'sk-sanctum-placeholder';

export interface StackOptions {
  /** routes.yaml body below `version`/`vault` (routes:, egress:, ...). `${ECHO}` is the echo origin, `${ECHO_PORT}` its port. */
  readonly routes: string;
  readonly credentials?: Record<string, string>;
  readonly socket?: boolean;
  readonly sessionTtlMs?: number;
  /** Extra top-level YAML (tls:, limits:, ...). */
  readonly extra?: string;
  /** The admin listener's address (default 127.0.0.1:0). */
  readonly admin?: string;
  /** Passed to the test vault (policies, rate limits). */
  readonly vaultOptions?: Partial<TestVaultOptions>;
  /** The sidecar's environment (config interpolation and runtime); default empty. */
  readonly env?: NodeJS.ProcessEnv;
  /** Name resolution for the sidecar's address gate (a fixed table keeps tests off real DNS). */
  readonly resolve?: SidecarOptions['resolve'];
}

export interface Stack {
  readonly sidecar: Sidecar;
  readonly echo: Echo;
  readonly vault: Awaited<ReturnType<typeof startTestVault>>;
  readonly proxyUrl: string;
  readonly adminUrl: string;
  readonly proxyPort: number;
  /** An undici dispatcher that sends absolute-form requests through the sidecar (HTTP_PROXY style). */
  readonly agent: ProxyAgent;
  readonly logs: string[];
  /** Parsed JSON log lines whose msg is 'request' (the canonical line). */
  requestLines(): Array<Record<string, unknown>>;
  configPath: string;
  close(): Promise<void>;
}

export function defaultCredentials(): Record<string, string> {
  return {
    'openai/api-key': SECRETS.openai,
    'anthropic/api-key': SECRETS.anthropic,
    'github/token': SECRETS.github,
    'svc/basic': SECRETS.basic,
  };
}

export async function startStack(opts: StackOptions): Promise<Stack> {
  const vault = await startTestVault({
    credentials: opts.credentials ?? defaultCredentials(),
    allowLoopback: true,
    ...(opts.socket ? { socket: true } : {}),
    ...(opts.sessionTtlMs !== undefined ? { sessionTtlMs: opts.sessionTtlMs } : {}),
    ...opts.vaultOptions,
  });
  const echo = await startEcho();
  const endpoint = vault.endpoint;
  const vaultYaml =
    'socket' in endpoint
      ? `  socket: ${JSON.stringify(endpoint.socket)}`
      : `  tcp: ${endpoint.host}:${endpoint.port}`;
  const text = [
    'version: 1',
    'listen: 127.0.0.1:0',
    `admin: ${opts.admin ?? '127.0.0.1:0'}`,
    'vault:',
    `  agent: ${vault.agent}`,
    vaultYaml,
    `  key_file: ${JSON.stringify(vault.keyFile)}`,
    '  timeout: 1s',
    opts.extra ?? '',
    opts.routes.replaceAll('${ECHO}', echo.origin).replaceAll('${ECHO_PORT}', String(echo.port)),
  ].join('\n');
  const configPath = join(vault.dir, 'routes.yaml');
  await writeFile(configPath, text);
  const config = parseConfig(text, configPath, opts.env ?? {});

  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb): void {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') logs.push(line);
      cb();
    },
  });
  const log = pino({ level: 'debug', messageKey: 'msg', formatters: { level: (l) => ({ level: l }) } }, sink);
  const sidecar = await startSidecar({
    config,
    configPath,
    log,
    defaultMetrics: false,
    env: opts.env ?? {},
    ...(opts.resolve === undefined ? {} : { resolve: opts.resolve }),
  });
  await sidecar.vault.whenReady(5000);
  // Tee every body the sidecar writes itself (it carries x-sanctum-error) into the evidence.
  const errorBodies: string[] = [];
  sidecar.server.prependListener('request', (_req, res: import('node:http').ServerResponse) => {
    const end = res.end.bind(res) as (...a: unknown[]) => unknown;
    (res as unknown as { end: (...a: unknown[]) => unknown }).end = (...a: unknown[]) => {
      // writeHead(status, headers) bypasses getHeader(), so recognise the catalogue's body shape.
      const body = typeof a[0] === 'string' || Buffer.isBuffer(a[0]) ? String(a[0]) : '';
      if (res.statusCode >= 400 && body.startsWith('{"error":{"code":')) errorBodies.push(body);
      return end(...a);
    };
  });
  const agent = new ProxyAgent({ uri: `http://127.0.0.1:${sidecar.proxy.port}`, proxyTunnel: false });
  return {
    agent,
    sidecar,
    echo,
    vault,
    proxyUrl: `http://127.0.0.1:${sidecar.proxy.port}`,
    adminUrl: sidecar.admin ? `http://127.0.0.1:${sidecar.admin.port}` : '',
    proxyPort: sidecar.proxy.port,
    logs,
    configPath,
    requestLines: () =>
      logs
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((o) => o.msg === 'request'),
    async close(): Promise<void> {
      await agent.close();
      await sidecar.close(2000);
      recordEvidence('log', logs);
      recordEvidence('error-body', errorBodies);
      recordEvidence('secret', Object.values(opts.credentials ?? defaultCredentials()));
      await echo.close();
      await vault.close();
    },
  };
}

/** The standard routes most tests use: absolute-form host routes and prefix routes to the echo. */
export const STANDARD_ROUTES = `
egress:
  unmatched: deny
  block_private_addresses: false
routes:
  - name: openai
    match: { host: api.openai.com, path: /v1/* }
    prefix: /openai
    upstream: \${ECHO}
    allow_plaintext: true
    credential: openai/api-key
    inject: { header_type: bearer }
  - name: anthropic
    match: { host: api.anthropic.com }
    prefix: /anthropic
    upstream: \${ECHO}
    allow_plaintext: true
    credential: anthropic/api-key
    inject: { header_type: custom, header_name: x-api-key }
  - name: github
    match: { host: api.github.com }
    upstream: \${ECHO}
    allow_plaintext: true
    credential: github/token
    cache_ttl: 60s
    inject: { header_type: bearer }
`;
