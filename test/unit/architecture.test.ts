/**
 * The architecture, as a test: every import in `src/**\/*.ts` (type-only imports and
 * re-exports included) is parsed, and the suite fails on any import circle and on any
 * import that points "upward" in the layer order below. A layer may import its own
 * layer and any lower one; a circle inside a layer is still a failure.
 *
 * The order (lowest first), decided from what the code needs:
 *   base        the error catalogue (with the vault's typed errors it maps), logging, listen(),
 *               the lean loaders of node:http and undici (node-http.ts, undici-core.ts)
 *   routing     targets, patterns, the route table, decide(), explain; domain Route types
 *   config      routes.yaml: wire types converted into the routing domain types
 *   vault       the vault client and the credential resolver that uses it
 *   egress      the address gate, IP ranges, the checked dial; TLS certificates
 *   metrics     the one Registry
 *   gateway     agents, authentication, tripwires, limits, agents' listeners
 *   proxy       listener, adapters, pipeline stages
 *   tunnel      CONNECT, inner HTTP, interception, WebSocket (built on the proxy core)
 *   admin       the admin listener
 *   app         the composition root; the agent environment derived from a config (agent-env);
 *               the admission webhook (injector/), a process of its own
 *   devvault    the development vault: only the CLI may start it, never the proxy path
 *   cli         commands and entry points
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

/** Layers, lowest first: the first rule that matches a path (relative to src/, with '/') decides. */
const LAYERS: ReadonlyArray<readonly [string, (p: string) => boolean]> = [
  ['cli', (p) => /^(main|healthcheck)\.ts$/.test(p) || /^(cli|dev)\//.test(p)],
  ['base', (p) => ['errors.ts', 'log.ts', 'listen.ts', 'version.ts', 'vault/errors.ts', 'node-http.ts', 'undici-core.ts'].includes(p)],
  ['routing', (p) => p.startsWith('routing/')],
  ['config', (p) => p.startsWith('config/')],
  ['vault', (p) => p.startsWith('vault/') || p.startsWith('credentials/')],
  ['egress', (p) => p.startsWith('egress/') || p.startsWith('tls/')],
  ['metrics', (p) => p.startsWith('metrics/')],
  ['gateway', (p) => p.startsWith('gateway/')],
  ['tunnel', (p) => p.startsWith('proxy/tunnel/')],
  ['proxy', (p) => p.startsWith('proxy/')],
  ['admin', (p) => p.startsWith('admin/')],
  ['app', (p) => p === 'app.ts' || p === 'run.ts' || p === 'agent-env.ts' || p.startsWith('injector/')],
  ['devvault', (p) => p.startsWith('devvault/')],
];
const ORDER = ['base', 'routing', 'config', 'vault', 'egress', 'metrics', 'gateway', 'proxy', 'tunnel', 'admin', 'app', 'devvault', 'cli'];

function layerOf(p: string): string {
  const hit = LAYERS.find(([, match]) => match(p));
  if (hit === undefined) throw new Error(`src/${p} belongs to no layer: add it to LAYERS in test/unit/architecture.test.ts`);
  return hit[0];
}

function files(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) files(p, out);
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

const rel = (abs: string): string => relative(SRC, abs).split(sep).join('/');

/** Every local module a file imports: static imports, `export ... from`, `import type`, dynamic `import()`. */
function importsOf(abs: string): string[] {
  const text = readFileSync(abs, 'utf8');
  const specs = new Set<string>();
  for (const m of text.matchAll(/^\s*(?:import|export)\s[^;]*?\sfrom\s+['"]([^'"]+)['"]/gms)) specs.add(m[1]!);
  for (const m of text.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm)) specs.add(m[1]!);
  for (const m of text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) specs.add(m[1]!);
  return [...specs].filter((s) => s.startsWith('.')).map((s) => rel(resolve(dirname(abs), s.replace(/\.js$/, '.ts'))));
}

const graph = new Map<string, string[]>(files(SRC).map((abs) => [rel(abs), importsOf(abs)]));

test('every import resolves to a file in src/', () => {
  for (const [from, tos] of graph) for (const to of tos) assert.ok(graph.has(to), `src/${from} imports src/${to}, which does not exist`);
  assert.ok(graph.size > 50, `parsed ${graph.size} modules`);
});

test('every module belongs to a layer', () => {
  for (const p of graph.keys()) assert.ok(ORDER.includes(layerOf(p)), p);
});

test('nothing imports upward in the layer order', () => {
  const violations: string[] = [];
  for (const [from, tos] of graph) {
    const lf = ORDER.indexOf(layerOf(from));
    for (const to of tos) {
      const lt = ORDER.indexOf(layerOf(to));
      if (lt > lf) violations.push(`src/${from} (${layerOf(from)}) imports src/${to} (${layerOf(to)})`);
    }
  }
  assert.deepEqual(violations, []);
});

test('zero import circles (type-only imports included)', () => {
  // Tarjan's strongly connected components: any component of more than one module, or a self-import, is a circle.
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const circles: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, idx.get(w)!));
      }
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || (graph.get(v) ?? []).includes(v)) circles.push(comp.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  assert.deepEqual(circles, []);
});

test('the proxy path never reaches the development vault', () => {
  // Everything the running sidecar loads, starting from the composition root.
  const seen = new Set<string>();
  const walk = (p: string): void => {
    if (seen.has(p)) return;
    seen.add(p);
    for (const q of graph.get(p) ?? []) walk(q);
  };
  walk('app.ts');
  assert.ok(seen.has('proxy/pipeline.ts') && seen.has('proxy/tunnel/connect.ts'));
  assert.deepEqual([...seen].filter((p) => p.startsWith('devvault/')), []);
});

test('the layer rules catch what they claim to (self-check on a made-up graph)', () => {
  assert.equal(layerOf('routing/decide.ts'), 'routing');
  assert.equal(layerOf('proxy/tunnel/connect.ts'), 'tunnel');
  assert.equal(layerOf('cli/keygen.ts'), 'cli');
  assert.equal(layerOf('dev/session.ts'), 'cli');
  assert.equal(layerOf('devvault/server.ts'), 'devvault');
  assert.ok(ORDER.indexOf(layerOf('config/types.ts')) > ORDER.indexOf(layerOf('routing/route.ts')), 'routing may not import config');
  assert.ok(ORDER.indexOf(layerOf('proxy/pipeline.ts')) < ORDER.indexOf(layerOf('proxy/tunnel/websocket.ts')), 'the proxy core may not import tunnel/');
  assert.ok(ORDER.indexOf(layerOf('tls/x509.ts')) < ORDER.indexOf(layerOf('proxy/listener.ts')), 'tls may not import proxy');
});
