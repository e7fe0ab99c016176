/**
 * The command line: sub-commands of `sanctum-sidecar`. Each command parses its own
 * flags with node:util parseArgs and returns an exit code; `main.ts` only calls `runCli`.
 * Precedence for settings is flags > SANCTUM_SIDECAR_* environment > routes.yaml > defaults.
 */
import { parseArgs } from 'node:util';
import { ConfigError } from './errors.js';
import type { Config } from './config/types.js';
import { loadConfigFile } from './config/load.js';
import { summarizeConfig, lintConfig } from './config/summary.js';
import { buildSnapshot } from './proxy/snapshot.js';
import { explain } from './routing/explain.js';
import { runSidecarUntilSignalled } from './run.js';
import { applyOverrides, OVERRIDE_OPTIONS } from './config/overrides.js';

const USAGE = `sanctum-sidecar — credential-injecting egress sidecar for AI agents

Usage:
  sanctum-sidecar run --config routes.yaml [--listen H:P] [--admin H:P] [--log-level L]
                      [--vault-socket PATH | --vault-tcp H:P] [--vault-agent NAME] [--key-file PATH]
                      [--ca-dir DIR] [--shutdown-timeout 25s] [--watch false]
  sanctum-sidecar dev [--config routes.yaml] [--listen H:P]   sidecar + embedded development vault
  sanctum-sidecar dev-vault --file dev-vault.yaml [--listen H:P | --socket PATH]
  sanctum-sidecar keygen <agent> [--out FILE] [--encrypt] [--force]
  sanctum-sidecar check <routes.yaml>
  sanctum-sidecar explain <METHOD> <URL> [--config routes.yaml]
  sanctum-sidecar ca init --out DIR [--force]           CA for TLS interception
  sanctum-sidecar env [--config routes.yaml] [--proxy-url URL] [--ca-path DIR]   agent environment

Every flag of 'run' has an environment twin: SANCTUM_SIDECAR_CONFIG, SANCTUM_SIDECAR_LISTEN,
SANCTUM_SIDECAR_ADMIN, SANCTUM_SIDECAR_LOG_LEVEL, SANCTUM_SIDECAR_VAULT_SOCKET,
SANCTUM_SIDECAR_VAULT_TCP, SANCTUM_SIDECAR_VAULT_AGENT, SANCTUM_SIDECAR_KEY_FILE,
SANCTUM_SIDECAR_CA_DIR, SANCTUM_SIDECAR_SHUTDOWN_TIMEOUT, SANCTUM_SIDECAR_WATCH.
`;

export async function runCli(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    // Commands other than run/check/explain are imported when used: a running sidecar
    // should not hold the dev vault (and the full undici it loads), keygen or the CA builder.
    switch (cmd) {
      case 'run':
        return await runCommand(rest, env);
      case 'dev':
        return await (await import('./dev/command.js')).runDevCommand(rest, env);
      case 'dev-vault':
        return await (await import('./devvault/cli.js')).runDevVaultCommand(rest);
      case 'keygen':
        return await (await import('./vault/keygen-cli.js')).runKeygenCommand(rest);
      case 'check':
        return await checkCommand(rest, env);
      case 'ca':
        return await (await import('./ca-cli.js')).runCaCommand(rest);
      case 'env':
        return await (await import('./env-cli.js')).runEnvCommand(rest, env);
      case 'explain':
        return await explainCommand(rest, env);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        return cmd === undefined ? 2 : 0;
      default:
        process.stderr.write(`sanctum-sidecar: unknown command '${cmd}'\n\n${USAGE}`);
        return 2;
    }
  } catch (err) {
    return reportError(err);
  }
}

function reportError(err: unknown): number {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    return 1;
  }
  const msg = err instanceof Error ? err.message : String(err);
  process.stderr.write(`sanctum-sidecar: ${msg}\n`);
  return 1;
}

async function runCommand(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { config: { type: 'string', short: 'c' }, watch: { type: 'string' }, ...OVERRIDE_OPTIONS },
    strict: true,
  });
  const path = values.config ?? env.SANCTUM_SIDECAR_CONFIG ?? 'routes.yaml';
  const transform = (c: Config): Config => applyOverrides(c, values, env);
  const config = transform(await loadConfigFile(path, env));
  const level = values['log-level'] ?? env.SANCTUM_SIDECAR_LOG_LEVEL ?? 'info';
  // SIGHUP always reloads; the directory watch can be turned off where files never change.
  const watch = !/^(0|false|no|off)$/i.test(values.watch ?? env.SANCTUM_SIDECAR_WATCH ?? 'true');
  return runSidecarUntilSignalled({ config, configPath: path, transform, logLevel: level, env, watch });
}

async function checkCommand(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
  const path = positionals[0] ?? env.SANCTUM_SIDECAR_CONFIG ?? 'routes.yaml';
  const config = await loadConfigFile(path, env);
  process.stdout.write(`${summarizeConfig(config)}\n`);
  const warnings = lintConfig(config);
  for (const w of warnings) process.stdout.write(`warning: ${w}\n`);
  process.stdout.write(`${path}: OK (${config.routes.length} routes, ${warnings.length} warnings)\n`);
  return 0;
}

async function explainCommand(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { config: { type: 'string', short: 'c' }, json: { type: 'boolean' } },
  });
  if (positionals.length !== 2) {
    process.stderr.write('usage: sanctum-sidecar explain <METHOD> <URL> [--config routes.yaml]\n');
    return 2;
  }
  const path = values.config ?? env.SANCTUM_SIDECAR_CONFIG ?? 'routes.yaml';
  const snap = buildSnapshot(await loadConfigFile(path, env), 1);
  const e = explain(snap, positionals[0]!.toUpperCase(), positionals[1]!);
  if (values.json) {
    process.stdout.write(`${JSON.stringify(e, null, 2)}\n`);
  } else {
    const rows: Array<[string, string | number | null]> = [
      ['decision', e.decision],
      ['route', e.route],
      ['credential', e.credential],
      ['mode', e.mode],
      ['header', e.header],
      ['upstream', e.upstream],
      ['cache_ttl_ms', e.cache_ttl_ms],
      ['code', e.code],
      ['reason', e.reason],
    ];
    for (const [k, v] of rows) if (v !== null) process.stdout.write(`${k.padEnd(12)} ${v}\n`);
  }
  return e.decision === 'route' || e.decision === 'passthrough' ? 0 : 3;
}
