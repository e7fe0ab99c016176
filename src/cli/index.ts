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
import { INJECTOR_SPEC, runInjector } from './injector.js';
import { EXPLAIN_SPEC, explainCommand } from './explain.js';
import type { CommandIo, CommandSpec } from './flags.js';
import { KEYGEN_SPEC, runKeygenCommand } from './keygen.js';
import { packageVersion } from './package.js';
import { RUN_SPEC, runCommand } from './run.js';

interface Command {
  readonly spec: CommandSpec;
  readonly run: (args: readonly string[], env: NodeJS.ProcessEnv, io: CommandIo) => Promise<number>;
}

/** Every command, in the order `--help` lists them. */
export const COMMANDS: readonly Command[] = [
  { spec: RUN_SPEC, run: runCommand },
  { spec: DEV_SPEC, run: runDevCommand },
  { spec: CHECK_SPEC, run: checkCommand },
  { spec: EXPLAIN_SPEC, run: explainCommand },
  { spec: ENV_SPEC, run: (args, env, io) => runEnvCommand([...args], env, io) },
  { spec: CA_SPEC, run: (args, _env, io) => runCaCommand([...args], io) },
  { spec: KEYGEN_SPEC, run: (args, env, io) => runKeygenCommand([...args], { ...io, env }) },
  { spec: DEV_VAULT_SPEC, run: (args, env, io) => runDevVaultCommand([...args], { ...io, env }) },
  { spec: INJECTOR_SPEC, run: runInjector },
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

/** Run one command line; `io` replaces stdout/stderr for what the CLI itself writes (tests). */
export async function runCli(argv: readonly string[], env: NodeJS.ProcessEnv = process.env, io: CommandIo = {}): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const [name, ...rest] = argv;
  try {
    switch (name) {
      case undefined:
        stderr.write(usage());
        return 2;
      case 'help':
      case '--help':
      case '-h': {
        // `sanctum-sidecar help check` is `sanctum-sidecar check --help`.
        const target = rest[0] === undefined ? undefined : COMMANDS.find((c) => c.spec.name === rest[0]);
        if (target !== undefined) return await target.run(['--help'], env, io);
        if (rest[0] !== undefined) return unknown(stderr, `unknown command '${rest[0]}'`);
        stdout.write(usage());
        return 0;
      }
      case 'version':
      case '--version':
      case '-V':
        stdout.write(`sanctum-sidecar ${packageVersion()}\n`);
        return 0;
      default: {
        const command = COMMANDS.find((c) => c.spec.name === name);
        if (command === undefined) return unknown(stderr, name.startsWith('-') ? `unknown option '${name}'` : `unknown command '${name}'`);
        return await command.run(rest, env, io);
      }
    }
  } catch (err) {
    return reportError(stderr, err);
  }
}

function unknown(stderr: NodeJS.WritableStream, message: string): number {
  stderr.write(`sanctum-sidecar: ${message}\nRun 'sanctum-sidecar --help' for the list of commands.\n`);
  return 2;
}

function reportError(stderr: NodeJS.WritableStream, err: unknown): number {
  if (err instanceof ConfigError) {
    stderr.write(`${err.message}\n`);
    return 1;
  }
  const msg = err instanceof Error ? err.message : String(err);
  stderr.write(`sanctum-sidecar: ${msg}\n`);
  return 1;
}
