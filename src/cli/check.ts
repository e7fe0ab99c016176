/**
 * `sanctum-sidecar check [routes.yaml]`: validate a routes.yaml the way `run` loads it,
 * print a redacted summary and lint warnings (valid but risky settings, and well-known
 * API hosts reachable without a credential). Exit 1 on an invalid file, 0 otherwise;
 * with --strict, warnings fail too (for CI).
 */
import { loadConfigFile } from '../config/load.js';
import { lintConfig, summarizeConfig } from '../config/summary.js';
import { CONFIG_FLAG } from './common-flags.js';
import { parseCommand, type CommandIo, type CommandSpec } from './flags.js';

export const CHECK_SPEC = {
  name: 'check',
  synopsis: '[routes.yaml] [--strict]',
  summary: 'validate routes.yaml, print a redacted summary and lint warnings',
  description: [
    'Validate routes.yaml exactly as `run` loads it. Errors name the file, line and YAML path\n' +
      'and exit 1. Valid but risky settings are printed as warnings (exit 0 unless --strict).',
  ],
  args: [{ name: 'routes.yaml', help: 'the file to check (or --config)' }],
  positionals: { min: 0, max: 1 },
  flags: {
    config: CONFIG_FLAG,
    strict: { type: 'boolean', help: 'exit 1 when there is any warning' },
  },
} as const satisfies CommandSpec;

export async function checkCommand(args: readonly string[], env: NodeJS.ProcessEnv, io: CommandIo = {}): Promise<number> {
  const p = parseCommand(CHECK_SPEC, args, env, io);
  if (typeof p === 'number') return p;
  if (p.positionals.length > 0 && p.values.config !== undefined) return p.fail('give the file as an argument or with --config, not both');
  const path = p.positionals[0] ?? p.setting('config') ?? 'routes.yaml';
  const config = await loadConfigFile(path, env);
  p.stdout.write(`${summarizeConfig(config)}\n`);
  const warnings = lintConfig(config);
  for (const w of warnings) p.stdout.write(`warning: ${w}\n`);
  if (p.values.strict === true && warnings.length > 0) {
    p.stdout.write(`${path}: FAILED (--strict: ${warnings.length} warnings)\n`);
    return 1;
  }
  p.stdout.write(`${path}: OK (${config.routes.length} routes, ${warnings.length} warnings)\n`);
  return 0;
}
