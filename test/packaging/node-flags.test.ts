/**
 * One source of truth for how node runs the sidecar: scripts/shipped-runtime.mjs
 * (SHIPPED_NODE_FLAGS, SHIPPED_ENV, nodeOptionsForLimit), which the soak and the bench
 * read. The places that cannot read it must say the same: the shebang of src/main.ts
 * (what `npx sanctum-sidecar` and dist/main.js run with), the Dockerfile ENTRYPOINT and
 * ENV, and the NODE_OPTIONS the chart derives from a container's memory limit. The Node
 * major the measurements warn about must be the one the image ships.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  SHIPPED_ENV,
  SHIPPED_NODE_FLAGS,
  SHIPPED_NODE_MAJOR,
  chartDefaults,
  nodeOptionsForLimit,
  quantityToMiB,
  resolveNode,
} from '../../scripts/shipped-runtime.mjs';
import { RELEASE, ROOT, helm } from './helm.js';
import { parseAllDocuments } from 'yaml';

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

  it('the node to measure on: --node, else $SANCTUM_NODE, else the pinned Node 24, else this node with a warning', () => {
    const none = (): string => {
      throw new Error('offline');
    };
    assert.equal(resolveNode(undefined, {}, { pinned: () => process.execPath }).source.startsWith('the pinned Node'), true);
    assert.equal(resolveNode(undefined, { SANCTUM_NODE: process.execPath }, { pinned: none }).source, '$SANCTUM_NODE');
    assert.equal(resolveNode(process.execPath, { SANCTUM_NODE: '/nonexistent/node' }, { pinned: none }).source, '--node');
    assert.throws(() => resolveNode(undefined, { SANCTUM_NODE: '/nonexistent/node' }, { pinned: none }), /not found/);
    const r = resolveNode(undefined, {}, { pinned: none });
    assert.equal(r.path, process.execPath);
    assert.equal(r.version, process.version);
    const major = Number(process.versions.node.split('.')[0]);
    if (major === SHIPPED_NODE_MAJOR) assert.equal(r.warning, undefined);
    else assert.match(r.warning ?? '', new RegExp(`could not be had: offline.*image ships Node ${SHIPPED_NODE_MAJOR}`));
  });

  it('the Dockerfile ENV sets the shipped environment', () => {
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    const env = dockerfile
      .replace(/\\\n/g, ' ')
      .split('\n')
      .filter((l) => /^ENV\s/.test(l))
      .join(' ');
    for (const [k, v] of Object.entries(SHIPPED_ENV)) assert.match(env, new RegExp(`\\b${k}=${v}\\b`), `Dockerfile ENV lacks ${k}=${v}`);
  });

  it('memory quantities read as Kubernetes reads them', () => {
    assert.equal(quantityToMiB('192Mi'), 192);
    assert.equal(quantityToMiB('1Gi'), 1024);
    assert.equal(quantityToMiB('1.5Gi'), 1536);
    assert.equal(quantityToMiB('268435456'), 256);
    assert.equal(Math.floor(quantityToMiB('200M')), 190);
    assert.throws(() => quantityToMiB('lots'), /not a memory quantity/);
    assert.equal(nodeOptionsForLimit(192), '--max-old-space-size=96');
  });

  it("the chart's NODE_OPTIONS follow nodeOptionsForLimit for every limit, and none without a limit", async () => {
    const nodeOptions = async (args: string[]): Promise<string | undefined> => {
      const r = await helm(['template', RELEASE, join(ROOT, 'helm', 'sanctum-sidecar'), '--set', 'vault.agent=a', '--set', 'image.tag=1', ...args]);
      assert.equal(r.status, 0, r.stderr);
      for (const doc of parseAllDocuments(r.stdout)) {
        const spec = (doc.toJS() as { spec?: { template?: { spec?: Record<string, Array<{ name: string; env?: Array<{ name: string; value?: string }> }>> } } } | null)
          ?.spec?.template?.spec;
        for (const c of [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])]) {
          if (c.name === 'sanctum-sidecar') return c.env?.find((e) => e.name === 'NODE_OPTIONS')?.value ?? '';
        }
      }
      return undefined;
    };
    assert.equal(await nodeOptions([]), chartDefaults(ROOT).nodeOptions, 'the default values');
    for (const limit of ['160Mi', '1Gi', '300M', '268435456']) {
      assert.equal(await nodeOptions(['--set', `sidecar.resources.limits.memory=${limit}`]), nodeOptionsForLimit(quantityToMiB(limit)), limit);
    }
    assert.equal(await nodeOptions(['--set', 'sidecar.resources.limits=null']), '', 'no limit: no NODE_OPTIONS');
    assert.equal(await nodeOptions(['--set', 'sidecar.nodeOptions=--max-old-space-size=70']), '--max-old-space-size=70');
    // Gateway mode sizes from gateway.resources (the ci values give it 512Mi).
    const gateway = ['-f', join(ROOT, 'helm', 'sanctum-sidecar', 'ci', 'gateway-values.yaml')];
    assert.equal(await nodeOptions(gateway), nodeOptionsForLimit(512), 'gateway');
    assert.equal(await nodeOptions([...gateway, '--set', 'gateway.resources.limits.memory=1Gi']), nodeOptionsForLimit(1024), 'gateway 1Gi');
    assert.match(chartDefaults(ROOT, 'gateway').nodeOptions, /^--max-old-space-size=\d+$/);
  });

  it('the check is live: a differing shebang or ENTRYPOINT is caught', () => {
    assert.notDeepEqual(entrypoint('ENTRYPOINT ["node", "dist/main.js"]'), ['node', ...SHIPPED_NODE_FLAGS, 'dist/main.js']);
    assert.throws(() => entrypoint('CMD ["run"]'));
  });
});
