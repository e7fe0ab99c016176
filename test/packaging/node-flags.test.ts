/**
 * One source of truth for how node runs the sidecar: SHIPPED_NODE_FLAGS in
 * scripts/shipped-runtime.mjs, which the soak and the bench read. The places that
 * cannot read it must spell the same flags: the shebang of src/main.ts (what `npx
 * sanctum-sidecar` and dist/main.js run with) and the Dockerfile ENTRYPOINT. The Node
 * major the measurements warn about must be the one the image ships.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SHIPPED_NODE_FLAGS, SHIPPED_NODE_MAJOR, resolveNode } from '../../scripts/shipped-runtime.mjs';
import { ROOT } from './helm.js';

/** Node flags of a `#!/usr/bin/env -S node --flag ...` line. */
function shebangFlags(file: string): string[] {
  const first = readFileSync(file, 'utf8').split('\n', 1)[0] ?? '';
  const m = /^#!\/usr\/bin\/env -S node((?:\s+\S+)*)\s*$/.exec(first);
  assert.ok(m, `${file}: first line is not a '#!/usr/bin/env -S node ...' shebang: ${first}`);
  return m[1]!.trim().split(/\s+/).filter(Boolean);
}

/** The last ENTRYPOINT of the Dockerfile, parsed as the exec-form JSON array it must be. */
function entrypoint(dockerfile: string): string[] {
  const lines = dockerfile.split('\n').filter((l) => /^\s*ENTRYPOINT\s/i.test(l));
  assert.ok(lines.length > 0, 'the Dockerfile has no ENTRYPOINT');
  return JSON.parse(lines.at(-1)!.replace(/^\s*ENTRYPOINT\s+/i, '')) as string[];
}

describe('node flags: one source of truth', () => {
  it('are a non-empty list of --flags that node accepts', () => {
    assert.ok(SHIPPED_NODE_FLAGS.length > 0);
    for (const f of SHIPPED_NODE_FLAGS) assert.match(f, /^--[a-z0-9-]+(=\S+)?$/);
    const ok = spawnSync(process.execPath, [...SHIPPED_NODE_FLAGS, '-e', ''], { encoding: 'utf8' });
    assert.equal(ok.status, 0, ok.stderr);
    // Live: node refuses a flag it does not know, so the check above means something.
    const bad = spawnSync(process.execPath, ['--max-semi-space-sizes=2', '-e', ''], { encoding: 'utf8' });
    assert.notEqual(bad.status, 0);
  });

  it('src/main.ts shebang runs node with exactly the shipped flags', () => {
    assert.deepEqual(shebangFlags(join(ROOT, 'src', 'main.ts')), [...SHIPPED_NODE_FLAGS]);
  });

  it('the Dockerfile ENTRYPOINT runs node with exactly the shipped flags, then dist/main.js', () => {
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    assert.deepEqual(entrypoint(dockerfile), ['node', ...SHIPPED_NODE_FLAGS, 'dist/main.js']);
  });

  it('the image ships the Node major that measurements are judged on', () => {
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    assert.match(dockerfile, new RegExp(`^ARG RUNTIME_IMAGE=\\S*nodejs${SHIPPED_NODE_MAJOR}-`, 'm'));
    assert.match(dockerfile, new RegExp(`^ARG BUILD_IMAGE=node:${SHIPPED_NODE_MAJOR}-`, 'm'));
  });

  it('the node to measure on: --node, else $SANCTUM_NODE, else this node; another major is warned about', () => {
    assert.equal(resolveNode(undefined, {}).path, process.execPath);
    assert.equal(resolveNode(undefined, { SANCTUM_NODE: process.execPath }).source, '$SANCTUM_NODE');
    assert.equal(resolveNode(process.execPath, { SANCTUM_NODE: '/nonexistent/node' }).source, '--node');
    assert.throws(() => resolveNode(undefined, { SANCTUM_NODE: '/nonexistent/node' }), /not found/);
    const r = resolveNode(undefined, {});
    assert.equal(r.version, process.version);
    const major = Number(process.versions.node.split('.')[0]);
    if (major === SHIPPED_NODE_MAJOR) assert.equal(r.warning, undefined);
    else assert.match(r.warning ?? '', new RegExp(`image ships Node ${SHIPPED_NODE_MAJOR}`));
  });

  it('the check is live: a differing shebang or ENTRYPOINT is caught', () => {
    assert.notDeepEqual(entrypoint('ENTRYPOINT ["node", "dist/main.js"]'), ['node', ...SHIPPED_NODE_FLAGS, 'dist/main.js']);
    assert.throws(() => entrypoint('CMD ["run"]'));
  });
});
