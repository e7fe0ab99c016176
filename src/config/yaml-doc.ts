/**
 * The only module that imports `yaml` (DESIGN: one home per dependency). It parses
 * routes.yaml into a document that remembers where every node came from, performs
 * `${VAR}` interpolation on scalar nodes (so an environment value can change a value
 * but never the document's structure), and answers "which line is this YAML path on?"
 * for every issue the loader reports.
 */
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, Scalar, type Document, type Node } from 'yaml';
import type { ConfigIssue } from '../errors.js';

/** A YAML path as a list of map keys and sequence indexes. */
export type Seg = string | number;

/** `routes[1].inject.header_type` */
export function formatPath(path: readonly Seg[]): string {
  let out = '';
  for (const s of path) out += typeof s === 'number' ? `[${s}]` : out === '' ? s : `.${s}`;
  return out;
}

export interface ParsedYaml {
  readonly doc: Document;
  readonly lines: LineCounter;
  readonly issues: ConfigIssue[];
}

/** Parse one YAML document; syntax errors (including duplicate keys) become issues with lines. */
export function parseYaml(text: string): ParsedYaml {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: true, merge: false });
  // One syntax error tends to cascade into several on the same line; the first says it.
  const firstPerLine = doc.errors.filter(
    (e, i, all) => all.findIndex((o) => o.linePos?.[0]?.line === e.linePos?.[0]?.line) === i,
  );
  const issues: ConfigIssue[] = firstPerLine.map((e) => {
    let message = e.message.split(' at line ')[0] ?? e.message;
    if (e.code === 'MISSING_CHAR' || e.code === 'UNEXPECTED_TOKEN') {
      message += ' (inside [ ] or { }, quote values that contain ${...}, e.g. "${VAR}")';
    }
    return { path: '', line: e.linePos?.[0]?.line, message: `YAML syntax: ${message}` };
  });
  checkPlainData(doc, lines, issues);
  return { doc, lines, issues };
}

const PLAIN_TAGS = new Set(['str', 'int', 'float', 'bool', 'null', 'map', 'seq'].map((t) => `tag:yaml.org,2002:${t}`));

/**
 * Configuration is plain data: strings, numbers, booleans, null, maps and sequences.
 * Explicit tags such as `!!binary`, `!!timestamp`, `!!set` or custom `!tags` would turn
 * into objects the schema never expects, so each is a located issue instead.
 */
function checkPlainData(doc: Document, lines: LineCounter, issues: ConfigIssue[]): void {
  const seen = new Set<unknown>();
  const walk = (node: unknown): void => {
    if (node === null || typeof node !== 'object' || seen.has(node) || isAlias(node)) return;
    seen.add(node);
    const n = node as Node & { tag?: string };
    const line = n.range ? lines.linePos(n.range[0]).line : undefined;
    if (n.tag !== undefined && !PLAIN_TAGS.has(n.tag)) {
      issues.push({ path: '', line, message: `YAML tag ${n.tag.replace('tag:yaml.org,2002:', '!!')} is not supported; configuration values are plain strings, numbers, booleans, lists and maps` });
      return;
    }
    if (isScalar(node)) {
      const v = node.value;
      if (v !== null && typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
        issues.push({ path: '', line, message: 'unsupported YAML value type; use a plain string, number or boolean' });
      }
    } else if (isMap(node)) {
      for (const p of node.items) {
        walk(p.key);
        walk(p.value);
      }
    } else if (isSeq(node)) {
      for (const item of node.items) walk(item);
    }
  };
  walk(doc.contents);
}

function resolve(doc: Document, node: unknown): unknown {
  return isAlias(node) ? node.resolve(doc) : node;
}

/**
 * The 1-based line of a YAML path: the key's line for a map entry, the item's line for
 * a sequence entry. Walks as far as the path exists and falls back to the deepest
 * node found, so a missing key is reported at its parent.
 */
export function lineOf(parsed: ParsedYaml, path: readonly Seg[]): number | undefined {
  const { doc, lines } = parsed;
  let node: unknown = doc.contents;
  let at: number | undefined = (doc.contents as Node | null)?.range?.[0];
  for (const seg of path) {
    node = resolve(doc, node);
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) break;
      at = (pair.key as Node).range?.[0] ?? at;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg] as Node | undefined;
      if (!item) break;
      at = item.range?.[0] ?? at;
      node = item;
    } else {
      break;
    }
  }
  return at === undefined ? undefined : lines.linePos(at).line;
}

const REF = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\{/g;

/**
 * Replace `${VAR}` and `${VAR:-default}` in every string scalar (values, not keys).
 * `:-` uses the default when VAR is unset or empty, as in the shell; `$${` is a
 * literal `${`. A reference to an unset variable without a default is an issue.
 * A plain (unquoted) scalar that was interpolated is re-typed the way YAML types a
 * scalar (number, boolean, null), so `port: ${PORT}` is a number; quoted scalars stay
 * strings. Structure can never change: only the scalar's value is replaced.
 * Returns the YAML paths whose values came from the environment.
 */
export function interpolate(parsed: ParsedYaml, env: NodeJS.ProcessEnv, issues: ConfigIssue[]): string[] {
  const fromEnv: string[] = [];
  const seen = new Set<unknown>();
  const walk = (node: unknown, path: Seg[]): void => {
    if (seen.has(node)) return;
    seen.add(node);
    if (isMap(node)) {
      for (const p of node.items) if (isScalar(p.key)) walk(p.value, [...path, String(p.key.value)]);
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => walk(item, [...path, i]));
    } else if (isScalar(node) && typeof node.value === 'string' && node.value.includes('${')) {
      const where = { path: formatPath(path), line: lineOf(parsed, path) };
      let usedEnv = false;
      const value = node.value.replace(REF, (whole: string, name: string | undefined, dflt: string | undefined) => {
        if (whole === '$${') return '${';
        if (name === undefined) {
          issues.push({ ...where, message: 'malformed ${...} reference; write ${NAME} or ${NAME:-default} (use $${ for a literal ${)' });
          return whole;
        }
        const v = env[name];
        if (v !== undefined && (v !== '' || dflt === undefined)) {
          usedEnv = true;
          return v;
        }
        if (dflt !== undefined) return dflt;
        issues.push({ ...where, message: `environment variable ${name} is not set and has no default (write \${${name}:-default})` });
        return whole;
      });
      if (usedEnv) fromEnv.push(where.path);
      node.value = node.type === Scalar.PLAIN ? retype(value) : value;
    }
  };
  walk(parsed.doc.contents, []);
  return fromEnv;
}

/** YAML 1.2 core-schema typing of a plain scalar's text. */
function retype(text: string): unknown {
  if (/^(?:|~|null|Null|NULL)$/.test(text)) return null;
  if (/^(?:true|True|TRUE)$/.test(text)) return true;
  if (/^(?:false|False|FALSE)$/.test(text)) return false;
  if (/^[-+]?[0-9]+$/.test(text)) return Number(text);
  if (/^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/.test(text)) return Number(text);
  return text;
}

/** The document as plain data (after interpolation). Alias expansion is bounded by yaml's defaults. */
export function toData(parsed: ParsedYaml): unknown {
  return parsed.doc.toJS({ maxAliasCount: 100 });
}
