/**
 * How `sanctum-sidecar env` renders the agent environment (the variables themselves come
 * from agent-env.ts, shared with the chart-parity test): `export` lines for a shell or an
 * env file. Values that reference the agent's token variable are double-quoted so the
 * shell expands them when the lines are sourced; everything else is quoted only when it
 * has to be.
 */
import { agentEnv, type AgentEnvOptions, type EnvVar } from '../agent-env.js';
import type { Config } from '../config/types.js';

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
