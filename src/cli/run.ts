/**
 * `sanctum-sidecar run`: the sidecar itself, on the vault named in routes.yaml, until
 * SIGTERM or SIGINT. Settings: flag > SANCTUM_SIDECAR_* environment > routes.yaml >
 * built-in default; the override flags are re-applied on every reload.
 */
import type { Config } from '../config/types.js';
import { loadConfigFile } from '../config/load.js';
import { applyOverrides } from '../config/overrides.js';
import { CONFIG_FLAG, OVERRIDE_FLAGS } from './common-flags.js';
import { parseCommand, type CommandIo, type CommandSpec } from './flags.js';
import { runSidecarUntilSignalled } from './lifecycle.js';

export const RUN_SPEC = {
  name: 'run',
  synopsis: '[--config routes.yaml] [flags]',
  summary: 'run the sidecar (proxy and admin listeners) on the vault named in routes.yaml',
  description: [
    'Run the sidecar on the vault named in routes.yaml until SIGTERM or SIGINT: it drains in-flight\n' +
      'requests for up to limits.shutdown_timeout, then exits 0; a second signal exits at once.\n' +
      "SIGHUP and changes in the config file's directory reload routes.yaml.",
    'Precedence: flag > environment variable > routes.yaml > built-in default.',
  ],
  positionals: { min: 0, max: 0 },
  flags: {
    config: CONFIG_FLAG,
    watch: {
      type: 'string',
      arg: 'true|false',
      env: 'SANCTUM_SIDECAR_WATCH',
      default: 'true',
      help: "reload when the config file's directory changes (SIGHUP always reloads)",
    },
    ...OVERRIDE_FLAGS,
  },
} as const satisfies CommandSpec;

export async function runCommand(args: readonly string[], env: NodeJS.ProcessEnv, io: CommandIo = {}): Promise<number> {
  const p = parseCommand(RUN_SPEC, args, env, io);
  if (typeof p === 'number') return p;
  const watchSetting = p.setting('watch') ?? 'true';
  if (!/^(1|0|true|false|yes|no|on|off)$/i.test(watchSetting)) return p.fail(`--watch must be true or false, got '${watchSetting}'`);
  const path = p.setting('config') ?? 'routes.yaml';
  const transform = (c: Config): Config => applyOverrides(c, p.values, env);
  const config = transform(await loadConfigFile(path, env));
  return runSidecarUntilSignalled({
    config,
    configPath: path,
    transform,
    logLevel: p.setting('log-level') ?? 'info',
    env,
    watch: !/^(0|false|no|off)$/i.test(watchSetting),
  });
}
