/**
 * `sanctum-sidecar env [--config routes.yaml] [--proxy-url URL] [--ca-path DIR]
 * [--agent NAME [--token-env VAR]]`: the environment an agent container needs (built by
 * `agent-env.ts`), printed as `export` lines for a shell or an env file. Values that
 * reference the agent's token variable are double-quoted so the shell expands them when
 * the lines are sourced; everything else is quoted only when it has to be.
 */
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfigFile } from './config/load.js';
import { applyOverrides, OVERRIDE_OPTIONS } from './config/overrides.js';
import type { Config } from './config/types.js';
import { agentEnv, AgentEnvError, type AgentEnvOptions, type EnvVar } from './agent-env.js';
import { CA_BUNDLE_FILE } from './tls/ca.js';

export interface EnvIo {
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
}

const USAGE =
  'usage: sanctum-sidecar env [--config routes.yaml] [--proxy-url URL] [--ca-path DIR] [--agent NAME [--token-env VAR]] [--listen H:P] [--ca-dir DIR]';

/** POSIX shell quoting, only when needed. */
export function shellQuote(v: string): string {
  return /^[A-Za-z0-9_./:,@%+=-]*$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`;
}

/** Double quotes with everything escaped except the `${NAME}` references the value is meant to expand. */
function expandingQuote(v: string, refs: readonly string[]): string {
  let q = v.replace(/[\\"`$]/g, (c) => `\\${c}`);
  for (const r of refs) q = q.replaceAll(`\\\${${r}}`, `\${${r}}`);
  return `"${q}"`;
}

/** Shell lines for `vars`: comments, then `export NAME=value`. */
export function renderShell(vars: readonly EnvVar[], source: string): string[] {
  const out = [`# Agent environment for sanctum-sidecar (${source})`];
  for (const v of vars) {
    if (v.comment !== undefined) for (const line of v.comment.split('\n')) out.push(`# ${line}`);
    out.push(`export ${v.name}=${v.refs !== undefined && v.refs.length > 0 ? expandingQuote(v.value, v.refs) : shellQuote(v.value)}`);
  }
  return out;
}

/** The lines `env` prints for `config` (pure, for tests). */
export function renderEnv(config: Config, opts: AgentEnvOptions = {}): string[] {
  return renderShell(agentEnv(config, opts), config.source);
}

export async function runEnvCommand(args: string[], env: NodeJS.ProcessEnv = process.env, io: EnvIo = {}): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        config: { type: 'string', short: 'c' },
        'proxy-url': { type: 'string' },
        'ca-path': { type: 'string' },
        agent: { type: 'string' },
        'token-env': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        ...OVERRIDE_OPTIONS,
      },
      strict: true,
    });
  } catch (err) {
    stderr.write(`env: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const { values } = parsed;
  if (values.help) {
    stdout.write(`${USAGE}\n`);
    return 0;
  }
  const proxyUrl = values['proxy-url'];
  if (proxyUrl !== undefined && !/^http:\/\/[^/?#@\s]+\/?$/.test(proxyUrl)) {
    stderr.write(`env: --proxy-url must be http://HOST:PORT\n${USAGE}\n`);
    return 2;
  }
  const path = values.config ?? env.SANCTUM_SIDECAR_CONFIG ?? 'routes.yaml';
  const config = applyOverrides(await loadConfigFile(path, env), values, env);
  const caDir = config.tls.caDir;
  const bundleExists =
    caDir === undefined
      ? undefined
      : await access(join(caDir, CA_BUNDLE_FILE)).then(
          () => true,
          () => false,
        );
  let lines: string[];
  try {
    lines = renderEnv(config, {
      ...(proxyUrl === undefined ? {} : { proxyUrl: proxyUrl.replace(/\/$/, '') }),
      ...(values['ca-path'] === undefined ? {} : { caPath: values['ca-path'] }),
      ...(bundleExists === undefined ? {} : { bundleExists }),
      ...(values.agent === undefined ? {} : { agent: values.agent }),
      ...(values['token-env'] === undefined ? {} : { tokenEnv: values['token-env'] }),
    });
  } catch (err) {
    if (!(err instanceof AgentEnvError)) throw err;
    stderr.write(`env: ${err.message}\n${USAGE}\n`);
    return 2;
  }
  stdout.write(`${lines.join('\n')}\n`);
  return 0;
}
