/**
 * `sanctum-sidecar dev` (what `npm start` runs): the sidecar on an embedded development
 * vault with a local echo upstream (src/dev/session.ts), so a new user sees a credential
 * injected with no other setup and no network. The order keeps failures clean: the
 * echo starts first (routes.yaml may refer to it), then routes.yaml is loaded (a missing
 * or invalid file exits 1 before any key or temporary directory exists), then the vault
 * and the sidecar. Whatever was started is closed on every way out: an error, SIGINT or
 * SIGTERM while starting, or the sidecar stopping.
 */
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import type { Config } from '../config/types.js';
import { loadConfigFile } from '../config/load.js';
import { applyOverrides } from '../config/overrides.js';
import { CONFIG_FLAG, OVERRIDE_FLAGS } from './common-flags.js';
import { parseCommand, type CommandIo, type CommandSpec } from './flags.js';
import { runSidecarUntilSignalled } from './lifecycle.js';
import { packagePath } from './package.js';

export const DEV_SPEC = {
  name: 'dev',
  synopsis: '[--config routes.yaml] [flags]',
  summary: 'the sidecar on an embedded development vault with a local echo upstream (npm start)',
  description: [
    'Start, on loopback, a development vault (fresh agent key, credentials from OPENAI_API_KEY,\n' +
      'ANTHROPIC_API_KEY, GITHUB_TOKEN, STRIPE_SECRET_KEY when set, otherwise placeholders), an echo\n' +
      'upstream, and the sidecar with routes.yaml. Without --config or SANCTUM_SIDECAR_CONFIG it uses\n' +
      './routes.yaml, or the example shipped with sanctum-sidecar when there is none. Stops on SIGINT\n' +
      'or SIGTERM and removes its temporary directory.',
  ],
  positionals: { min: 0, max: 0 },
  flags: {
    config: {
      type: 'string',
      short: 'c',
      arg: 'FILE',
      env: CONFIG_FLAG.env,
      defaultText: './routes.yaml, else the example shipped with sanctum-sidecar',
      help: CONFIG_FLAG.help,
    },
    'echo-port': { type: 'string', arg: 'PORT', default: '0', help: 'port of the echo upstream (0: any free port)' },
    ...OVERRIDE_FLAGS,
  },
} as const satisfies CommandSpec;

/** The routes.yaml to use: flag or env, else ./routes.yaml, else the shipped example. */
function configPath(given: string | undefined, stderr: NodeJS.WritableStream): string {
  if (given !== undefined || existsSync('routes.yaml')) return given ?? 'routes.yaml';
  const example = packagePath('routes.yaml');
  stderr.write(`sanctum-sidecar dev: no ./routes.yaml here; using the example ${example}\n`);
  return example;
}

export async function runDevCommand(args: readonly string[], env: NodeJS.ProcessEnv, io: CommandIo = {}): Promise<number> {
  const p = parseCommand(DEV_SPEC, args, env, io);
  if (typeof p === 'number') return p;
  const echoPort = Number(p.setting('echo-port') ?? '0');
  if (!/^\d{1,5}$/.test(p.setting('echo-port') ?? '0') || echoPort > 65535) return p.fail('--echo-port must be a port number (0 to 65535)');
  const path = configPath(p.setting('config'), p.stderr);

  // Imported here, not at the top: a running sidecar loads this dispatcher but never dev mode.
  const { DevSession } = await import('../dev/session.js');
  const session = new DevSession();
  // Until the sidecar's own handlers take over (onStarted), a signal stops the start-up.
  const onSignal = (signal: NodeJS.Signals): void => {
    void session.close().finally(() => process.exit(128 + constants.signals[signal]));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const handOver = (): void => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
  try {
    const devEnv = { ...env, SANCTUM_DEV_ECHO: await session.startEcho(echoPort) };
    const fileConfig = await loadConfigFile(path, devEnv);
    const vault = await session.startVault(env);
    const transform = (c: Config): Config =>
      applyOverrides({ ...c, vault: { ...c.vault, agent: vault.agent, socket: vault.socket, tcp: undefined, keyFile: vault.keyFile, passphraseEnv: undefined } }, p.values, env);
    return await runSidecarUntilSignalled({
      config: transform(fileConfig),
      configPath: path,
      transform,
      logLevel: p.setting('log-level') ?? 'info',
      env: devEnv,
      onStarted: (s) => {
        handOver();
        const proxy = `http://${s.proxy.host}:${s.proxy.port}`;
        p.stderr.write(
          [
            '',
            `sanctum-sidecar dev: proxy on ${proxy}, admin on ${s.admin ? `http://${s.admin.host}:${s.admin.port}` : 'off'}`,
            `  development vault: ${vault.socket} (agent ${vault.agent}), echo upstream: ${devEnv.SANCTUM_DEV_ECHO}`,
            '  try it (offline):',
            `    curl -s -x ${proxy} http://echo.local/hello -H 'authorization: Bearer sk-sanctum-placeholder'`,
            `    curl -s ${proxy}/echo/hello`,
            '  the echo shows the injected Authorization header (as a fingerprint); the placeholder is gone.',
            '',
          ].join('\n'),
        );
      },
      onStopped: () => session.close(),
    });
  } catch (err) {
    handOver();
    await session.close();
    throw err;
  }
}
