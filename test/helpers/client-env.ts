/**
 * Helpers for the tests that start real clients with exactly the environment
 * `sanctum-sidecar env` prints: a parser for its `export` lines (the quoting it emits:
 * bare words, single quotes, and double quotes around `${VAR}` references, which are
 * expanded from the variables given), and the lookup of a Node >= 24 binary.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** `export NAME=value` lines → { NAME: value }; comments and blank lines are skipped, anything else throws. */
export function parseExports(text: string, outer: Readonly<Record<string, string>> = {}): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^export ([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (m === null) throw new Error(`not an export line: ${line}`);
    out[m[1]!] = unquote(m[2]!, { ...outer, ...out });
  }
  return out;
}

function unquote(v: string, vars: Readonly<Record<string, string>>): string {
  if (v.startsWith("'")) {
    if (!v.endsWith("'")) throw new Error(`unterminated single quote: ${v}`);
    return v.slice(1, -1).replaceAll(`'\\''`, "'");
  }
  if (v.startsWith('"')) {
    if (!v.endsWith('"')) throw new Error(`unterminated double quote: ${v}`);
    const body = v.slice(1, -1);
    return body.replace(/\\([\\"`$])|\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, esc: string | undefined, name: string | undefined) =>
      esc !== undefined ? esc : (vars[name!] ?? ''),
    );
  }
  if (/[\s'"\\$`;&|<>]/.test(v)) throw new Error(`unquoted special character: ${v}`);
  return v;
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function majorOf(bin: string): number {
  const r = spawnSync(bin, ['-p', 'process.versions.node'], { encoding: 'utf8', timeout: 10_000 });
  return r.status === 0 ? Number(r.stdout.trim().split('.')[0]) : 0;
}

/**
 * A Node >= 24 binary: the running one when it is 24 or newer (CI's Node 24 pass),
 * else `$SANCTUM_NODE24`, a copy cached in `.cache/node24/bin/node`, or
 * `/opt/node24/bin/node` (where the project's machines keep it). `skip` says why not.
 */
export function findNode24(env: NodeJS.ProcessEnv = process.env): { bin: string } | { skip: string } {
  if (Number(process.versions.node.split('.')[0]) >= 24) return { bin: process.execPath };
  const candidates = [env.SANCTUM_NODE24, join(ROOT, '.cache', 'node24', 'bin', 'node'), '/opt/node24/bin/node'].filter(
    (c): c is string => c !== undefined && c !== '',
  );
  for (const c of candidates) if (existsSync(c) && majorOf(c) >= 24) return { bin: c };
  return {
    skip: `needs Node >= 24 (this is ${process.versions.node}); set SANCTUM_NODE24 to a Node 24 binary (looked in: ${candidates.join(', ')})`,
  };
}
