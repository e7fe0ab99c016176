/**
 * Kubernetes manifest checks for the packaging tests, with no cluster:
 *  - schema validation with kubernetes-models@4 (ajv validators generated from the
 *    Kubernetes OpenAPI) and @kubernetes-models/prometheus-operator for PodMonitor;
 *  - an unknown-field check, because those validators allow additional properties
 *    (a typo such as `restartPolicyy` would pass them). The field lists come from the
 *    same packages' .d.ts files, so they follow the same Kubernetes version;
 *  - cert-manager.io objects, which no models package covers, through cert-manager.ts.
 */
import { readFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { certManagerUnknownFields, isCertManager, validateCertManager } from './cert-manager.js';

const require = createRequire(import.meta.url);

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

/** The model module for apiVersion/kind, e.g. `kubernetes-models/apps/v1/Deployment`. */
export function modelModule(apiVersion: string, kind: string): string {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  if (group === 'monitoring.coreos.com') return `@kubernetes-models/prometheus-operator/${group}/${version}/${kind}`;
  return group ? `kubernetes-models/${group}/${version}/${kind}` : `kubernetes-models/${version}/${kind}`;
}

interface ModelClass {
  new (data: unknown): { validate(): void };
}

/** Validates one manifest against its Kubernetes schema; resolves to a list of problems (empty = valid). */
export async function validateManifest(doc: Manifest): Promise<string[]> {
  if (isCertManager(doc.apiVersion)) return validateCertManager(doc);
  const spec = modelModule(doc.apiVersion, doc.kind);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(spec)) as Record<string, unknown>;
  } catch (err) {
    return [`no schema for ${doc.apiVersion} ${doc.kind} (${spec}): ${(err as Error).message}`];
  }
  const Model = mod[doc.kind] as ModelClass | undefined;
  if (typeof Model !== 'function') return [`${spec} exports no ${doc.kind}`];
  try {
    new Model(doc).validate();
    return [];
  } catch (err) {
    const e = err as Error & { errors?: Array<{ instancePath?: string; message?: string }> };
    if (Array.isArray(e.errors) && e.errors.length > 0) {
      return e.errors.map((x) => `${x.instancePath || '/'} ${x.message ?? ''}`.trim());
    }
    return [e.message];
  }
}

// ---------------------------------------------------------------------------------------------
// Unknown-field check from the models' TypeScript declarations.
// ---------------------------------------------------------------------------------------------

interface Field {
  /** .d.ts file of the field's interface type, when it is one of the models' interfaces. */
  readonly ref: string | undefined;
}

interface Shape {
  readonly fields: ReadonlyMap<string, Field>;
}

const shapes = new Map<string, Shape | null>();

/** Parses the first `export interface` of a models .d.ts file; null when the file declares none (type aliases). */
function shapeOf(dtsFile: string): Shape | null {
  const cached = shapes.get(dtsFile);
  if (cached !== undefined) return cached;
  const text = readFileSync(dtsFile, 'utf8');
  const imports = new Map<string, string>();
  for (const m of text.matchAll(/^import \{ (\w+) \} from "([^"]+)";$/gm)) imports.set(m[1]!, m[2]!);
  const lines = text.split('\n');
  const start = lines.findIndex((l) => /^export interface \w+/.test(l));
  if (start < 0) {
    shapes.set(dtsFile, null);
    return null;
  }
  const fields = new Map<string, Field>();
  for (let i = start + 1; i < lines.length && lines[i] !== '}'; i++) {
    const m = /^ {4}"([^"]+)"\??: (.*)$/.exec(lines[i]!);
    if (!m) continue;
    const type = m[2]!.replace(/;$/, '').trim();
    const t = /^(?:Array<)?(I\w+)>?$/.exec(type);
    let ref: string | undefined;
    if (t && imports.has(t[1]!)) ref = resolveDts(dtsFile, imports.get(t[1]!)!);
    fields.set(m[1]!, { ref });
  }
  const shape = { fields };
  shapes.set(dtsFile, shape);
  return shape;
}

function resolveDts(fromFile: string, spec: string): string | undefined {
  let file: string;
  if (spec.startsWith('.')) {
    file = resolve(dirname(fromFile), spec + '.d.ts');
  } else {
    // A package path such as @kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta.
    const parts = spec.split('/');
    const pkg = spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
    const rest = parts.slice(spec.startsWith('@') ? 2 : 1).join('/');
    const pkgDir = packageDir(pkg);
    if (!pkgDir) return undefined;
    file = join(pkgDir, rest + '.d.ts');
  }
  return existsSync(file) ? file : undefined;
}

function packageDir(pkg: string): string | undefined {
  try {
    // Every models package exports its index; its directory is the package root.
    return dirname(require.resolve(pkg));
  } catch {
    return undefined;
  }
}

function rootDts(apiVersion: string, kind: string): string | undefined {
  try {
    return require.resolve(modelModule(apiVersion, kind)).replace(/\.js$/, '.d.ts');
  } catch {
    return undefined;
  }
}

/**
 * Paths of fields that the Kubernetes API does not define, e.g.
 * `/spec/template/spec/initContainers/0/restartPolicyy`. Fields under maps (labels,
 * resources) and under types the declarations leave open are not checked.
 */
export function unknownFields(doc: Manifest): string[] {
  if (isCertManager(doc.apiVersion)) return certManagerUnknownFields(doc);
  const file = rootDts(doc.apiVersion, doc.kind);
  if (!file) return [`no declarations for ${doc.apiVersion} ${doc.kind}`];
  const out: string[] = [];
  walk(doc, file, '', out);
  return out;
}

function walk(value: unknown, dtsFile: string, path: string, out: string[]): void {
  if (Array.isArray(value)) {
    value.forEach((v, i) => walk(v, dtsFile, `${path}/${i}`, out));
    return;
  }
  if (value === null || typeof value !== 'object') return;
  const shape = shapeOf(dtsFile);
  if (!shape) return;
  for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
    const field = shape.fields.get(key);
    if (!field) {
      out.push(`${path}/${key}`);
      continue;
    }
    if (field.ref) walk(child, field.ref, `${path}/${key}`, out);
  }
}
