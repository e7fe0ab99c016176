/**
 * The one flag parser of the command line. Every command declares a `CommandSpec`
 * (its flags with their environment twins and defaults, its positional arguments), and
 * this module turns the spec into both the parser (node:util `parseArgs`, strict) and
 * the `--help` text, so the help can never list a flag the parser refuses or miss one
 * it accepts. A usage error is one line naming the problem plus the usage line and a
 * pointer to `--help`, exit code 2; `--help`/`-h` prints the help on stdout, exit 0.
 */
import { parseArgs } from 'node:util';

export interface Flag {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  /** The value's name in the help (`FILE`, `HOST:PORT`); string flags only. */
  readonly arg?: string;
  /** The environment variable read when the flag is absent. */
  readonly env?: string;
  /** The value used when neither flag nor environment variable is set (see `setting`). */
  readonly default?: string;
  /** Help text for a default that comes from elsewhere (routes.yaml); not used by `setting`. */
  readonly defaultText?: string;
  readonly help: string;
}

export type Flags = Readonly<Record<string, Flag>>;

export interface CommandSpec<F extends Flags = Flags> {
  /** As typed after `sanctum-sidecar`, e.g. `keygen`. */
  readonly name: string;
  /** Shown after the command name in the usage line, e.g. `<agent> [flags]`. */
  readonly synopsis: string;
  /** One line, for `sanctum-sidecar --help`. */
  readonly summary: string;
  /** Paragraphs printed under the usage line. */
  readonly description?: readonly string[];
  readonly args?: readonly { readonly name: string; readonly help: string }[];
  /** How many positional arguments are accepted, and what to say otherwise (default: name the first missing or extra one). */
  readonly positionals: { readonly min: number; readonly max: number; readonly countError?: string };
  readonly flags: F;
}

export type FlagValues<F extends Flags> = { readonly [K in keyof F]?: F[K]['type'] extends 'boolean' ? boolean : string };

export interface CommandIo {
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
}

export interface ParsedCommand<F extends Flags> {
  readonly values: FlagValues<F>;
  readonly positionals: readonly string[];
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  /** Flag, else its non-empty environment twin, else its default. */
  setting(name: keyof F & string): string | undefined;
  /** Report a usage error (the message, the usage line, the pointer to --help) and return 2. */
  fail(message: string): number;
}

const BIN = 'sanctum-sidecar';
const HELP: Flag = { type: 'boolean', short: 'h', help: 'show this help and exit' };

/** `sanctum-sidecar keygen <agent> [flags]`. */
export function usageLine(spec: CommandSpec): string {
  return `usage: ${BIN} ${spec.name} ${spec.synopsis}`.trimEnd();
}

/** Node's parseArgs messages are long and suggest `--` tricks; say what was wrong in a few words. */
function describeParseError(err: Error & { code?: string }): string {
  const quoted = /'([^']*)'/.exec(err.message)?.[1] ?? '';
  // `'-o, --out <value>'`: name the long form.
  const option = /--[\w-]+/.exec(quoted)?.[0] ?? /-\w/.exec(quoted)?.[0] ?? '?';
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option '${option}'`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return /argument missing/.test(err.message) ? `option '${option}' needs a value` : `option '${option}' takes no value`;
    default:
      return err.message.split('. ')[0] ?? err.message;
  }
}

/**
 * Parse `args` for the command `spec`. Returns the exit code instead when the answer is
 * already given: 0 after `--help`, 2 after a usage error.
 */
export function parseCommand<F extends Flags>(spec: CommandSpec<F>, args: readonly string[], env: NodeJS.ProcessEnv, io: CommandIo = {}): ParsedCommand<F> | number {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const fail = (message: string): number => {
    stderr.write(`${BIN} ${spec.name}: ${message}\n${usageLine(spec)}\nRun '${BIN} ${spec.name} --help' for every flag.\n`);
    return 2;
  };
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const [name, f] of Object.entries({ ...spec.flags, help: HELP })) {
    options[name] = f.short === undefined ? { type: f.type } : { type: f.type, short: f.short };
  }
  let parsed;
  try {
    parsed = parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
  } catch (err) {
    return fail(describeParseError(err as Error & { code?: string }));
  }
  if (parsed.values.help === true) {
    stdout.write(helpText(spec));
    return 0;
  }
  const { positionals } = parsed;
  const count = spec.positionals;
  if (positionals.length > count.max) return fail(count.countError ?? `unexpected argument '${positionals[count.max]}'`);
  if (positionals.length < count.min) return fail(count.countError ?? `missing ${spec.args?.[positionals.length]?.name ?? 'an argument'}`);
  const values = parsed.values as FlagValues<F>;
  return {
    values,
    positionals,
    stdout,
    stderr,
    fail,
    setting(name) {
      const flag = values[name];
      if (typeof flag === 'string') return flag;
      const f = spec.flags[name];
      const fromEnv = f?.env === undefined ? undefined : env[f.env];
      return fromEnv !== undefined && fromEnv !== '' ? fromEnv : f?.default;
    },
  };
}

function flagColumn(name: string, f: Flag): string {
  const short = f.short === undefined ? '    ' : `-${f.short}, `;
  const arg = f.type === 'string' ? ` ${f.arg ?? 'VALUE'}` : '';
  return `${short}--${name}${arg}`;
}

/** The `--help` text: usage, description, arguments, then every flag with its env twin and default. */
export function helpText(spec: CommandSpec): string {
  const out: string[] = [usageLine(spec).replace(/^usage/, 'Usage'), ''];
  for (const p of spec.description ?? [spec.summary]) out.push(p, '');
  if (spec.args !== undefined && spec.args.length > 0) {
    out.push('Arguments:');
    const width = Math.max(...spec.args.map((a) => a.name.length)) + 2;
    for (const a of spec.args) out.push(`  ${a.name.padEnd(width)}${a.help}`);
    out.push('');
  }
  out.push('Flags:');
  const flags = Object.entries({ ...spec.flags, help: HELP });
  const width = Math.max(...flags.map(([n, f]) => flagColumn(n, f).length)) + 3;
  for (const [name, f] of flags) {
    out.push(`  ${flagColumn(name, f).padEnd(width)}${f.help}`);
    const extra = [
      f.env === undefined ? '' : `env ${f.env}`,
      f.default !== undefined ? `default ${f.default}` : f.defaultText !== undefined ? `default ${f.defaultText}` : '',
    ].filter(Boolean);
    if (extra.length > 0) out.push(`  ${''.padEnd(width)}(${extra.join('; ')})`);
  }
  return `${out.join('\n')}\n`;
}
