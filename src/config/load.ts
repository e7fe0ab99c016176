/**
 * Loading routes.yaml: text → YAML document → `${VAR}` interpolation → JSON Schema
 * (ajv) → domain `Config` with the cross-field and cross-route rules. Every problem in
 * every stage is collected and thrown together as one `ConfigError`, each issue naming
 * its YAML path and line (STYLE 3). The result is a frozen snapshot: the pipeline holds
 * one per request and a reload swaps it whole (I13).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { ConfigError, type ConfigIssue } from '../errors.js';
import { Issues } from './context.js';
import { convertConfig } from './convert.js';
import type { WireConfig } from './schema.js';
import type { Config } from './types.js';
import { removePath, validateSchema } from './validate.js';
import { interpolate, parseYaml, toData } from './yaml-doc.js';

export interface ParseOptions {
  /**
   * Directory that relative paths in the file (vault socket, key_file, tls paths) are
   * resolved against. `loadConfigFile` passes the file's directory; without it,
   * relative paths are kept as written (relative to the process's cwd).
   */
  readonly baseDir?: string;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/**
 * Parse and validate routes.yaml text. `source` names the file in messages; `env`
 * (default `process.env`) feeds `${VAR}` interpolation and `~` expansion. Throws
 * `ConfigError(source, issues)` listing every problem found.
 */
export function parseConfig(text: string, source: string, env: NodeJS.ProcessEnv = process.env, options: ParseOptions = {}): Config {
  const parsed = parseYaml(text);
  if (parsed.issues.length > 0) throw new ConfigError(source, parsed.issues);
  const unset: ConfigIssue[] = [];
  const fromEnv = interpolate(parsed, env, unset);
  const issues = new Issues(parsed, fromEnv);
  issues.list.push(...unset);
  let data: unknown;
  try {
    data = toData(parsed);
  } catch (err) {
    // yaml refuses alias bombs ("excessive alias count") and similar; report, don't crash.
    throw new ConfigError(source, [{ path: '', line: undefined, message: `YAML: ${(err as Error).message}` }]);
  }
  if (data === null || data === undefined || typeof data !== 'object' || Array.isArray(data)) {
    issues.add([], 'routes.yaml must be a mapping with at least `version: 1` and `vault:`');
    throw new ConfigError(source, issues.list);
  }
  const schema = validateSchema(data, parsed);
  // A value whose ${VAR} could not be resolved is reported once, not again by the schema.
  const unresolved = new Set(unset.map((i) => i.path));
  issues.list.push(...schema.issues.filter((i) => !unresolved.has(i.path)));
  for (const key of schema.unknownKeys) removePath(data, key);
  const converted = convertConfig(issues, data as WireConfig, schema.broken, { env, baseDir: options.baseDir });
  if (issues.list.length > 0) {
    const sorted = [...issues.list].sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
    throw new ConfigError(source, sorted);
  }
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 16);
  return deepFreeze({ ...converted, hash, source, envPaths: fromEnv });
}

/**
 * Read routes.yaml from disk (following symlinks, as Kubernetes ConfigMap mounts
 * need) and parse it; relative paths inside resolve against the file's directory.
 * An unreadable file is a `ConfigError` with one issue saying why.
 */
export async function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): Promise<Config> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'the file does not exist'
      : code === 'EACCES' || code === 'EPERM' ? 'permission denied'
      : code === 'EISDIR' ? 'it is a directory, not a file'
      : `it could not be read (${code ?? 'unknown error'})`;
    throw new ConfigError(path, [{ path: '', line: undefined, message: `cannot read the configuration: ${why}` }]);
  }
  return parseConfig(text, path, env, { baseDir: dirname(resolve(path)) });
}
