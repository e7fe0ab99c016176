/**
 * `sanctum-sidecar dev` (what `npm start` runs): the sidecar on an embedded development
 * vault, with the example routes.yaml and a local echo upstream, so a new user sees a
 * credential injected with no other setup and no network. The vault gets a fresh
 * agent key in a private temporary directory and listens on a Unix socket there.
 * Credentials come from the environment when set (OPENAI_API_KEY, ...), otherwise
 * from obvious development placeholders.
 */
import { parseArgs } from 'node:util';
import { mkdtemp, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../config/types.js';
import { loadConfigFile } from '../config/load.js';
import { applyOverrides, OVERRIDE_OPTIONS } from '../config/overrides.js';
import { runSidecarUntilSignalled } from '../run.js';
import { startDevVault } from '../devvault/server.js';
import { publicKeyFromSeed, writeKeyFile } from '../vault/keys.js';
import { startDevEcho } from './echo.js';

const DEV_AGENT = 'sanctum-dev';

/** Vault path → environment variable that may supply a real value. */
const ENV_CREDENTIALS: Record<string, string> = {
  'openai/api-key': 'OPENAI_API_KEY',
  'anthropic/api-key': 'ANTHROPIC_API_KEY',
  'github/token': 'GITHUB_TOKEN',
  'stripe/secret': 'STRIPE_SECRET_KEY',
};

export async function runDevCommand(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { config: { type: 'string', short: 'c' }, 'echo-port': { type: 'string' }, ...OVERRIDE_OPTIONS },
    strict: true,
  });
  const path = values.config ?? env.SANCTUM_SIDECAR_CONFIG ?? 'routes.yaml';
  const dir = await mkdtemp(join(tmpdir(), 'sanctum-dev-'));
  const seed = new Uint8Array(randomBytes(32));
  const keyFile = join(dir, `${DEV_AGENT}.key`);
  await writeKeyFile(keyFile, seed);

  const echo = await startDevEcho('127.0.0.1', Number(values['echo-port'] ?? 0));
  const credentials: Record<string, { value: string }> = {
    'echo/token': { value: `sk-dev-echo-${randomBytes(12).toString('hex')}` },
  };
  for (const [p, name] of Object.entries(ENV_CREDENTIALS)) {
    credentials[p] = { value: env[name] ?? `sk-dev-placeholder-${p.split('/')[0]}` };
  }
  const socket = join(dir, 'vault.sock');
  const vault = await startDevVault({
    config: {
      agents: { [DEV_AGENT]: { public_key: Buffer.from(publicKeyFromSeed(seed)).toString('hex') } },
      credentials,
      policies: [{ name: 'dev', principal: `agent:${DEV_AGENT}`, resources: ['*'], actions: ['use', 'retrieve', 'list'] }],
      allow_loopback: true,
    },
    listen: { socket },
    banner: true,
  });

  const devEnv = { ...env, SANCTUM_DEV_ECHO: echo.origin };
  const transform = (c: Config): Config =>
    applyOverrides(
      { ...c, vault: { ...c.vault, agent: DEV_AGENT, socket, tcp: undefined, keyFile, passphraseEnv: undefined } },
      values,
      env,
    );
  const config = transform(await loadConfigFile(path, devEnv));
  const level = values['log-level'] ?? env.SANCTUM_SIDECAR_LOG_LEVEL ?? 'info';

  const cleanup = async (): Promise<void> => {
    await vault.close();
    await new Promise<void>((r) => echo.server.close(() => r()));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    return await runSidecarUntilSignalled({
      config,
      configPath: path,
      transform,
      logLevel: level,
      env: devEnv,
      onStarted: (s) => {
        const proxy = `http://${s.proxy.host}:${s.proxy.port}`;
        process.stderr.write(
          [
            '',
            `sanctum-sidecar dev: proxy on ${proxy}, admin on ${s.admin ? `http://${s.admin.host}:${s.admin.port}` : 'off'}`,
            `  development vault: ${socket} (agent ${DEV_AGENT}), echo upstream: ${echo.origin}`,
            '  try it (offline):',
            `    curl -s -x ${proxy} http://echo.local/hello -H 'authorization: Bearer sk-sanctum-placeholder'`,
            `    curl -s ${proxy}/echo/hello`,
            '  the echo shows the injected Authorization header (as a fingerprint); the placeholder is gone.',
            '',
          ].join('\n'),
        );
      },
      onStopped: cleanup,
    });
  } catch (err) {
    await cleanup().catch(() => undefined);
    throw err;
  }
}
