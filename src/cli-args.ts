/**
 * The common front of the small sub-commands (`ca`, `keygen`): parse flags strictly,
 * answer `--help`, and turn a usage error into the message plus the usage line and
 * exit code 2, so every command reports bad flags the same way.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

export interface CommandIo {
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
}

type Options = NonNullable<ParseArgsConfig['options']>;

export interface ParsedCommand<O extends Options> {
  readonly values: ReturnType<typeof parseArgs<{ args: string[]; options: O & { help: { type: 'boolean'; short: 'h' } }; allowPositionals: true; strict: true }>>['values'];
  readonly positionals: string[];
  readonly stdout: NodeJS.WritableStream;
  /** Report a usage error (message, then the usage line) and return exit code 2. */
  readonly fail: (msg: string) => number;
}

/** Parse `args` for command `name`; returns the exit code instead when it was --help or a usage error. */
export function parseCommand<O extends Options>(name: string, usage: string, args: string[], options: O, io: CommandIo = {}): ParsedCommand<O> | number {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const fail = (msg: string): number => {
    stderr.write(`${name}: ${msg}\n${usage}\n`);
    return 2;
  };
  let parsed;
  try {
    parsed = parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (err) {
    return fail((err as Error).message);
  }
  if ((parsed.values as { help?: boolean }).help === true) {
    stdout.write(`${usage}\n`);
    return 0;
  }
  return { values: parsed.values as ParsedCommand<O>['values'], positionals: parsed.positionals, stdout, fail };
}
