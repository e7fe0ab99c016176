/**
 * What a running sidecar loads, kept lean (issue 19): every MiB of resident memory is
 * multiplied by the number of agent pods.
 *
 * - node:http is loaded through src/node-http.ts only: an ESM value import of it makes
 *   Node 24 evaluate its WebSocket/CloseEvent/MessageEvent getters, which load Node's
 *   bundled undici (measured: 8.5 MiB RSS).
 * - undici's Agent, Pool and connector come from src/undici-core.ts, which loads them
 *   from their own files; those must stay the very objects the package exports.
 * - ajv's compiler is not loaded: src/config/routes-validator.gen.ts is its code for the
 *   schema, generated ahead of time (compiling at start-up kept 6-7 MiB resident).
 * - The static import graph of `run` (src/main.ts) holds neither the development vault,
 *   the dev command, keygen, `ca` nor `env`: the CLI imports those when used (the
 *   certificate builder stays: a running sidecar intercepts TLS with it).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as core from '../../src/undici-core.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SRC = join(ROOT, 'src');

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) sources(p, out);
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** Static `import ... from 'x'` statements of a file (not `import type`, not dynamic `import()`). */
function valueImports(file: string): Array<{ spec: string; names: string }> {
  const text = readFileSync(file, 'utf8');
  const out: Array<{ spec: string; names: string }> = [];
  for (const m of text.matchAll(/^import\s+(?!type\b)([^'";]*?)\s*from\s*'([^']+)';/gms)) out.push({ names: m[1]!, spec: m[2]! });
  for (const m of text.matchAll(/^import\s+'([^']+)';/gm)) out.push({ names: '', spec: m[1]! });
  for (const m of text.matchAll(/^export\s+(?!type\b)[^'";]*?\s*from\s*'([^']+)';/gms)) out.push({ names: '*', spec: m[1]! });
  return out;
}

/** True when an import clause brings in at least one value (not only `type X` specifiers). */
function bringsValues(names: string): boolean {
  const braces = /\{([^}]*)\}/s.exec(names);
  const outside = names.replace(/\{[^}]*\}/s, '').replace(/,/g, '').trim();
  if (outside !== '') return true; // default or namespace import
  if (braces === null) return names === '' || names === '*';
  return braces[1]!.split(',').map((s) => s.trim()).filter(Boolean).some((s) => !s.startsWith('type '));
}

function resolveLocal(from: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const p = resolve(dirname(from), spec.replace(/\.js$/, '.ts'));
  return existsSync(p) ? p : undefined;
}

describe('lean imports: what a running sidecar loads', () => {
  it('node:http is value-imported only by src/node-http.ts', () => {
    const offenders = sources(SRC)
      .filter((f) => !f.endsWith(`${'/'}node-http.ts`))
      .flatMap((f) => valueImports(f).filter((i) => (i.spec === 'node:http' || i.spec === 'http') && bringsValues(i.names)).map(() => relative(ROOT, f)));
    assert.deepEqual(offenders, [], 'import values from src/node-http.ts instead (type-only imports are fine)');
  });

  it('the request path takes undici from src/undici-core.ts, never the package index', () => {
    const offenders = sources(SRC)
      .filter((f) => !f.includes('/devvault/'))
      .flatMap((f) => valueImports(f).filter((i) => i.spec === 'undici' && bringsValues(i.names)).map(() => relative(ROOT, f)));
    assert.deepEqual(offenders, []);
  });

  it("the sidecar never loads ajv's compiler: routes.yaml is checked by code generated ahead of time", () => {
    const offenders = sources(SRC).flatMap((f) => valueImports(f).filter((i) => i.spec === 'ajv' && bringsValues(i.names)).map(() => relative(ROOT, f)));
    assert.deepEqual(offenders, [], 'compiling the schema at start-up kept 6-7 MiB resident: regenerate src/config/routes-validator.gen.ts instead');
  });

  it("undici-core's classes are the very objects undici exports (an upgrade that moves a file fails here)", () => {
    const undici = createRequire(import.meta.url)('undici') as typeof import('undici');
    assert.equal(core.Agent, undici.Agent);
    assert.equal(core.Pool, undici.Pool);
    assert.equal(core.Client, undici.Client);
    assert.equal(core.buildConnector, undici.buildConnector);
  });

  it('the static import graph of the binary holds no dev vault, dev command, keygen, ca or env command', () => {
    const seen = new Set<string>();
    const walk = (f: string): void => {
      if (seen.has(f)) return;
      seen.add(f);
      for (const i of valueImports(f)) {
        const next = resolveLocal(f, i.spec);
        if (next !== undefined) walk(next);
      }
    };
    walk(join(SRC, 'main.ts'));
    const loaded = [...seen].map((f) => relative(SRC, f));
    assert.ok(loaded.includes('app.ts') && loaded.includes('proxy/forward.ts'), `graph walk found too little: ${loaded.join(', ')}`);
    const unwanted = loaded.filter((f) => /^(devvault\/|dev\/|injector\/)/.test(f));
    assert.deepEqual(unwanted, [], 'import these where the command runs (dynamic import), not at start-up');
  });

  it("loading the sidecar's modules does not load Node's bundled undici", () => {
    const probe = [
      `await import(${JSON.stringify(join(SRC, 'cli', 'index.ts'))});`,
      `await import(${JSON.stringify(join(SRC, 'app.ts'))});`,
      `process.stdout.write(process.moduleLoadList.filter((m) => m.includes('internal/deps/undici')).join(','));`,
    ].join('\n');
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', probe], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '', `loaded: ${r.stdout}`);
    // Live on Node 24: there an ESM import of node:http does load it.
    if (Number(process.versions.node.split('.')[0]) >= 24) {
      const bad = spawnSync(process.execPath, ['--input-type=module', '-e', "import 'node:http'; process.stdout.write(process.moduleLoadList.filter((m) => m.includes('internal/deps/undici')).join(','));"], { encoding: 'utf8' });
      assert.notEqual(bad.stdout, '', 'expected the probe to see the bundled undici after an ESM import of node:http');
    }
  });

  it('the import scanner is live: it sees value imports and skips type-only ones', () => {
    assert.equal(bringsValues('{ createServer, type Server }'), true);
    assert.equal(bringsValues('{ type Server, type IncomingMessage }'), false);
    assert.equal(bringsValues('http'), true);
    assert.equal(bringsValues('* as http'), true);
  });
});
