/**
 * The command line's dispatcher: `sanctum-sidecar <command> [args]`. Each command lives
 * in its own file with its spec (flags, environment twins, defaults), parsed by the one
 * parser in flags.ts, and returns an exit code: 0 success, 1 failure (a config error
 * names file, line and YAML path), 2 usage error, 3 `explain` refusal. `main.ts` is the
 * process entry and only calls `runCli`.
 */
import { ConfigError } from '../errors.js';
import { CA_SPEC, runCaCommand } from './ca.js';
import { CHECK_SPEC, checkCommand } from './check.js';
import { DEV_SPEC, runDevCommand } from './dev.js';
import { DEV_VAULT_SPEC, runDevVaultCommand } from './dev-vault.js';
import { ENV_SPEC, runEnvCommand } from './env.js';
import { EXPLAIN_SPEC, explainCommand } from './explain.js';
import type { CommandSpec } from './flags.js';
import { KEYGEN_SPEC, runKeygenCommand } from './keygen.js';
import { packageVersion } from './package.js';
import { RUN_SPEC, runCommand } from './run.js';

interface Command {
  readonly spec: CommandSpec;
  readonly run: (args: readonly string[], env: NodeJS.ProcessEnv) => Promise<number>;
}

/** Every command, in the order `--help` lists them. */
export const COMMANDS: readonly Command[] = [
  { spec: RUN_SPEC, run: runCommand },
  { spec: DEV_SPEC, run: runDevCommand },
  { spec: CHECK_SPEC, run: checkCommand },
  { spec: EXPLAIN_SPEC, run: explainCommand },
  { spec: ENV_SPEC, run: (args, env) => runEnvCommand([...args], env) },
  { spec: CA_SPEC, run: (args) => runCaCommand([...args]) },
  { spec: KEYGEN_SPEC, run: (args, env) => runKeygenCommand([...args], { env }) },
  { spec: DEV_VAULT_SPEC, run: (args, env) => runDevVaultCommand([...args], { env }) },
];

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.spec.name.length)) + 3;
  return [
    'sanctum-sidecar: a credential-injecting egress sidecar for AI agents',
    '',
    'Usage: sanctum-sidecar <command> [arguments] [flags]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.spec.name.padEnd(width)}${c.spec.summary}`),
    '',
    "Run 'sanctum-sidecar <command> --help' for a command's arguments and flags, each with its",
    'environment variable and default. Other flags: -h, --help (this text); -V, --version.',
    '',
  ].join('\n');
}

export async function runCli(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [name, ...rest] = argv;
  try {
    switch (name) {
      case undefined:
        process.stderr.write(usage());
        return 2;
      case 'help':
      case '--help':
      case '-h': {
        // `sanctum-sidecar help check` is `sanctum-sidecar check --help`.
        const target = rest[0] === undefined ? undefined : COMMANDS.find((c) => c.spec.name === rest[0]);
        if (target !== undefined) return await target.run(['--help'], env);
        if (rest[0] !== undefined) return unknown(`unknown command '${rest[0]}'`);
        process.stdout.write(usage());
        return 0;
      }
      case 'version':
      case '--version':
      case '-V':
        process.stdout.write(`sanctum-sidecar ${packageVersion()}\n`);
        return 0;
      default: {
        const command = COMMANDS.find((c) => c.spec.name === name);
        if (command === undefined) return unknown(name.startsWith('-') ? `unknown option '${name}'` : `unknown command '${name}'`);
        return await command.run(rest, env);
      }
    }
  } catch (err) {
    return reportError(err);
  }
}

function unknown(message: string): number {
  process.stderr.write(`sanctum-sidecar: ${message}\nRun 'sanctum-sidecar --help' for the list of commands.\n`);
  return 2;
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
