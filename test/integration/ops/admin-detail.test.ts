/**
 * Admin detail gating: /routes and /explain describe agents, routes and vault paths.
 * When the admin listener is not on loopback (here 0.0.0.0, reached over 127.0.0.1),
 * they answer 403 ADMIN_DETAIL_OFF unless routes.yaml says `admin_detail: true`, which
 * a reload can turn on; /healthz, /readyz and /metrics stay. On loopback they are served.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { startStack, STANDARD_ROUTES, type Stack } from '../../helpers/stack.js';

let wide: Stack;
let local: Stack;
before(async () => {
  wide = await startStack({ routes: STANDARD_ROUTES, admin: '0.0.0.0:0' });
  local = await startStack({ routes: STANDARD_ROUTES });
});
after(async () => {
  await wide.close();
  await local.close();
});

const EXPLAIN = `/explain?method=GET&url=${encodeURIComponent('http://api.openai.com/v1/models')}`;

async function get(s: Stack, path: string): Promise<{ status: number; code: string | null; body: string }> {
  const r = await fetch(`${s.adminUrl}${path}`);
  return { status: r.status, code: r.headers.get('x-sanctum-error'), body: await r.text() };
}

test('admin on 0.0.0.0: /routes and /explain are 403 ADMIN_DETAIL_OFF; health, readiness and metrics stay', async () => {
  assert.equal(wide.sidecar.admin?.host, '0.0.0.0');
  for (const path of ['/routes', EXPLAIN]) {
    const r = await get(wide, path);
    assert.deepEqual([r.status, r.code], [403, 'ADMIN_DETAIL_OFF'], path);
    assert.match(r.body, /admin_detail: true/);
    assert.doesNotMatch(r.body, /openai\/api-key|api\.openai\.com/, 'nothing of the route table');
  }
  assert.equal((await get(wide, '/healthz')).status, 200);
  assert.equal((await get(wide, '/readyz')).status, 200);
  const m = await get(wide, '/metrics');
  assert.equal(m.status, 200);
  assert.match(m.body, /sanctum_sidecar_config_info/);
});

test('admin_detail: true (applied by a reload) serves them again', async () => {
  const text = await readFile(wide.configPath, 'utf8');
  await writeFile(wide.configPath, `${text}\nadmin_detail: true\n`);
  await wide.sidecar.reload();
  const r = await get(wide, '/routes');
  assert.equal(r.status, 200);
  const body = JSON.parse(r.body) as { routes: Array<{ name: string; response_guard: string; ports: number[] }> };
  assert.deepEqual(body.routes.map((x) => x.name), ['openai', 'anthropic', 'github']);
  assert.equal(body.routes[0]!.response_guard, 'mask');
  assert.equal((await get(wide, EXPLAIN)).status, 200);
});

test('admin on loopback: /routes and /explain are served without admin_detail', async () => {
  assert.equal((await get(local, '/routes')).status, 200);
  assert.equal((await get(local, EXPLAIN)).status, 200);
});
