/**
 * Fault: a configuration that cannot be read on reload (issue 8, I13). The file is
 * deleted, replaced by a directory, truncated into invalid YAML, or rewritten with a
 * route that fails validation. Each time `reload()` must reject with a ConfigError,
 * the old routes must keep serving with their credentials, and
 * `sanctum_sidecar_config_reloads_total{result="error"}` must go up by one. Restoring
 * the file makes the next reload succeed.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { Agent, request } from 'undici';
import { ConfigError } from '../../src/errors.js';
import { SECRETS } from '../helpers/stack.js';
import { startRig, type Rig, openaiPrefixRoutes } from '../helpers/sidecar-rig.js';

let rig: Rig;
let agent: Agent;
let original: string;
before(async () => {
  rig = await startRig({
    upstreams: ['openai'],
    credentials: { 'openai/api-key': SECRETS.openai },
    routes: (u) => openaiPrefixRoutes(u),
  });
  original = await readFile(rig.configPath, 'utf8');
  agent = new Agent();
});
after(async () => {
  await agent.close();
  await rig.close();
});

async function reloads(result: 'success' | 'error'): Promise<number> {
  const r = await request(`${rig.adminUrl}/metrics`, { dispatcher: agent });
  const text = await r.body.text();
  const m = new RegExp(`^sanctum_sidecar_config_reloads_total\\{result="${result}"\\} (\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

async function stillServes(): Promise<void> {
  const n = rig.ups.openai!.requests.length;
  const r = await request(`http://127.0.0.1:${rig.proxyPort}/openai/v1/models`, { dispatcher: agent });
  await r.body.text();
  assert.equal(r.statusCode, 200, 'the old routes keep serving');
  assert.equal(rig.ups.openai!.requests[n]!.headers.authorization, `Bearer ${SECRETS.openai}`);
}

async function assertRejectedReload(what: string): Promise<void> {
  const errors = await reloads('error');
  const generation = rig.sidecar.snapshot().generation;
  await assert.rejects(rig.sidecar.reload(), (err: unknown) => {
    assert.ok(err instanceof ConfigError, `${what}: ${String(err)}`);
    for (const v of Object.values(SECRETS)) assert.ok(!err.message.includes(v));
    return true;
  });
  assert.equal(await reloads('error'), errors + 1, `${what}: config_reloads_total{result="error"}`);
  assert.equal(rig.sidecar.snapshot().generation, generation, `${what}: the snapshot was swapped`);
  await stillServes();
}

test('reload of a deleted config file is refused; the old routes keep serving', async () => {
  await rm(rig.configPath);
  try {
    await assertRejectedReload('deleted');
  } finally {
    await writeFile(rig.configPath, original);
  }
});

test('reload when the config path is a directory is refused', async () => {
  await rm(rig.configPath);
  await mkdir(rig.configPath);
  try {
    await assertRejectedReload('directory');
  } finally {
    await rm(rig.configPath, { recursive: true });
    await writeFile(rig.configPath, original);
  }
});

test('reload of a half-written (truncated, invalid YAML) file is refused', async () => {
  await writeFile(rig.configPath, original.slice(0, Math.floor(original.length / 2)) + '\n  - [unclosed: {');
  try {
    await assertRejectedReload('truncated');
  } finally {
    await writeFile(rig.configPath, original);
  }
});

test('reload of a file whose route fails validation (userinfo upstream) is refused', async () => {
  await writeFile(rig.configPath, original.replace(/upstream: http:\/\/127\.0\.0\.1/, 'upstream: http://user:pw@127.0.0.1'));
  try {
    await assertRejectedReload('invalid route');
  } finally {
    await writeFile(rig.configPath, original);
  }
});

test('reload of a file that is not UTF-8 text is refused', async () => {
  await writeFile(rig.configPath, Buffer.from([0xff, 0xfe, 0x00, 0x76, 0x00, 0x3a, 0xc3, 0x28]));
  try {
    await assertRejectedReload('binary');
  } finally {
    await writeFile(rig.configPath, original);
  }
});

test('once the file is readable again, reload succeeds', async () => {
  const ok = await reloads('success');
  await rig.sidecar.reload();
  assert.equal(await reloads('success'), ok + 1);
  await stillServes();
});
