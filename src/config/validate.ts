/**
 * Schema validation of routes.yaml with ajv (all errors, not just the first), and the
 * translation of ajv's errors into located, human messages: each ajv `instancePath`
 * becomes a YAML path (`routes[1].inject.header_type`) and, through yaml-doc, a line.
 * Also reports which subtrees had errors, so the semantic checks that follow can skip
 * data that is not the shape they expect while still checking everything else.
 */
import type { ErrorObject, ValidateFunction } from 'ajv';
import type { ConfigIssue } from '../errors.js';
import generated from './routes-validator.gen.js';
import { formatPath, lineOf, type ParsedYaml, type Seg } from './yaml-doc.js';

// ajv's code for ROUTES_SCHEMA, generated ahead of time by scripts/routes-validator.mjs:
// compiling the schema at start-up kept 6-7 MiB of every sidecar resident (Node 24).
const validateRoutes = generated as unknown as ValidateFunction;

export interface SchemaResult {
  readonly issues: ConfigIssue[];
  /** YAML paths (as strings) at or under which the schema found a problem. */
  readonly broken: ReadonlySet<string>;
  /** Unknown keys: reported, then removed so the rest of their mapping is still checked. */
  readonly unknownKeys: readonly Seg[][];
}

/** `/routes/1/inject` -> ['routes', 1, 'inject'] (RFC 6901 unescaping). */
function pointerToPath(pointer: string): Seg[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^(?:0|[1-9][0-9]*)$/.test(s) ? Number(s) : s));
}

const TYPE_WORDS: Readonly<Record<string, string>> = {
  string: 'a string',
  number: 'a number',
  integer: 'a whole number',
  boolean: 'true or false',
  object: 'a mapping (key: value)',
  array: 'a list',
  null: 'empty',
};

function describe(e: ErrorObject): { path: Seg[]; message: string } {
  const path = pointerToPath(e.instancePath);
  const custom = (e.parentSchema as Record<string, unknown> | undefined)?.['x-message'];
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required': {
      const key = String(params['missingProperty']);
      const hint = key === 'version' ? ' (add `version: 1`)' : '';
      return { path: [...path, key], message: `\`${key}\` is required${hint}` };
    }
    case 'additionalProperties': {
      const key = String(params['additionalProperty']);
      return { path: [...path, key], message: `unknown key \`${key}\`` };
    }
    case 'enum':
      return { path, message: `must be one of: ${(params['allowedValues'] as unknown[]).join(', ')}` };
    case 'type': {
      if (typeof custom === 'string') return { path, message: custom };
      const types = String(params['type']).split(',');
      return { path, message: `must be ${types.map((t) => TYPE_WORDS[t] ?? t).join(' or ')}` };
    }
    default:
      if (typeof custom === 'string') return { path, message: custom };
      return { path, message: e.message ?? `fails ${e.keyword}` };
  }
}

/** Validate plain data against the routes.yaml schema; every failure located in the YAML. */
export function validateSchema(data: unknown, parsed: ParsedYaml): SchemaResult {
  if (validateRoutes(data)) return { issues: [], broken: new Set(), unknownKeys: [] };
  const issues: ConfigIssue[] = [];
  const broken = new Set<string>();
  const unknownKeys: Seg[][] = [];
  const seen = new Set<string>();
  for (const e of validateRoutes.errors ?? []) {
    // A bad key under `propertyNames` is reported by its own error (located at the key below).
    if (e.keyword === 'propertyNames') continue;
    const described = describe(e);
    const propertyName = (e as { propertyName?: unknown }).propertyName;
    const path = typeof propertyName === 'string' ? [...described.path, propertyName] : described.path;
    const message = described.message;
    const text = formatPath(path);
    const key = `${text}\0${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    issues.push({ path: text, line: lineOf(parsed, path), message });
    if (e.keyword === 'additionalProperties') unknownKeys.push(path);
    else broken.add(formatPath(pointerToPath(e.instancePath)));
  }
  return { issues, broken, unknownKeys };
}

/** Did the schema report anything at or under `path`? */
export function isBroken(broken: ReadonlySet<string>, path: string): boolean {
  for (const b of broken) {
    if (b === path || path === '' || b.startsWith(`${path}.`) || b.startsWith(`${path}[`)) return true;
  }
  return false;
}

/** Delete the value at `path` from plain data (used to drop unknown keys after reporting them). */
export function removePath(data: unknown, path: readonly Seg[]): void {
  let node: unknown = data;
  for (let i = 0; i < path.length - 1; i++) {
    if (node === null || typeof node !== 'object') return;
    node = (node as Record<string, unknown>)[String(path[i])];
  }
  if (node !== null && typeof node === 'object' && !Array.isArray(node)) delete (node as Record<string, unknown>)[String(path[path.length - 1])];
}
