/**
 * Operations surface: after a scripted mix of requests (success, deny, cache hit, vault
 * down) every counter on /metrics holds the exact expected value and no label carries a
 * raw path or the secret; /readyz follows the vault; every log line is JSON, one
 * canonical line per request, and the secret appears in none.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startDevVault } from '../../../src/devvault/server.js';
import { bytesToHex } from '../../../src/vault/hex.js';
import { publicKeyFromSeed } from '../../../src/vault/keys.js';
import { ALLOW_ALL } from '../../helpers/devvault.js';
import { startStack, STANDARD_ROUTES, SECRETS, PLACEHOLDER, type Stack } from '../../helpers/stack.js';
import { pollUntil } from '../../helpers/child.js';
import { recordEvidence } from '../../helpers/evidence.js';

let s: Stack;
before(async () => {
  s = await startStack({ routes: STANDARD_ROUTES });
});
after(() => s.close());

/** Parse Prometheus text into `name{labels}` → value (labels as printed). */
function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    assert.ok(i > 0, `malformed line: ${line}`);
    const v = Number(line.slice(i + 1));
    assert.ok(!Number.isNaN(v), `value of ${line}`);
    out.set(line.slice(0, i), v);
  }
  return out;
}

async function metrics(): Promise<{ text: string; map: Map<string, number> }> {
  const res = await request(`${s.adminUrl}/metrics`);
  assert.equal(res.statusCode, 200);
  assert.match(String(res.headers['content-type']), /text\/plain/);
  const text = await res.body.text();
  return { text, map: parseMetrics(text) };
}

async function get(url: string, headers: Record<string, string> = {}): Promise<number> {
  const res = await request(url, { dispatcher: s.agent, headers });
  await res.body.dump();
  return res.statusCode;
}

async function readyz(): Promise<number> {
  const res = await request(`${s.adminUrl}/readyz`);
  await res.body.dump();
  return res.statusCode;
}

test('counters hold exact values after a scripted mix', async () => {
  assert.equal(await get('http://api.openai.com/v1/models'), 200); // injected, miss
  assert.equal(await get('http://api.openai.com/v1/models', { authorization: `Bearer ${PLACEHOLDER}` }), 200); // replaced, miss
  assert.equal(await get('http://api.github.com/user'), 200); // miss (ttl 60s)
  assert.equal(await get('http://api.github.com/user'), 200); // hit
  assert.equal(await get('http://unlisted.example/secret-path?token=abc'), 403); // deny

  const { text, map } = await metrics();
  const expect: Record<string, number> = {
    'sanctum_sidecar_requests_total{route="openai",method="GET",code_class="2xx",outcome="forwarded",agent=""}': 2,
    'sanctum_sidecar_requests_total{route="github",method="GET",code_class="2xx",outcome="forwarded",agent=""}': 2,
    'sanctum_sidecar_requests_total{route="none",method="GET",code_class="4xx",outcome="denied",agent=""}': 1,
    'sanctum_sidecar_injections_total{route="openai",result="injected"}': 1,
    'sanctum_sidecar_injections_total{route="openai",result="replaced_agent_header"}': 1,
    'sanctum_sidecar_injections_total{route="github",result="injected"}': 2,
    'sanctum_sidecar_credential_cache_events_total{route="openai",event="miss"}': 2,
    'sanctum_sidecar_credential_cache_events_total{route="github",event="miss"}': 1,
    'sanctum_sidecar_credential_cache_events_total{route="github",event="hit"}': 1,
    'sanctum_sidecar_denied_requests_total{reason="NO_ROUTE"}': 1,
    'sanctum_sidecar_vault_requests_total{operation="http_header",result="ok"}': 3,
    'sanctum_sidecar_vault_connection_state{state="ready"}': 1,
    'sanctum_sidecar_request_duration_seconds_count{route="openai"}': 2,
    'sanctum_sidecar_upstream_duration_seconds_count{route="github"}': 2,
  };
  for (const [k, v] of Object.entries(expect)) assert.equal(map.get(k), v, k);
  assert.ok((map.get('sanctum_sidecar_bytes_total{route="openai",direction="out"}') ?? 0) > 0);
  assert.equal(map.get(`sanctum_sidecar_config_info{hash="${s.sidecar.snapshot().config.hash}"}`), 1);
  assert.ok(!text.includes('secret-path') && !text.includes('unlisted.example') && !text.includes('/v1/models'), 'no raw host or path in labels');
  for (const v of Object.values(SECRETS)) assert.ok(!text.includes(v));

  // Vault down: a failed injection and a vault_error outcome.
  const vaultPort = (s.vault.endpoint as { port: number }).port;
  await s.vault.vault.close();
  assert.ok(await pollUntil(async () => (await readyz()) === 503, 3000), '/readyz turns 503 when the vault stops');
  assert.equal(await get('http://api.openai.com/v1/models'), 503);
  const after1 = (await metrics()).map;
  assert.equal(after1.get('sanctum_sidecar_requests_total{route="openai",method="GET",code_class="5xx",outcome="vault_error",agent=""}'), 1);
  assert.equal(after1.get('sanctum_sidecar_injections_total{route="openai",result="failed"}'), 1);

  // The vault returns on the same port: readiness comes back by itself.
  const revived = await startDevVault({
    config: {
      agents: { [s.vault.agent]: { public_key: bytesToHex(publicKeyFromSeed(s.vault.seed)) } },
      credentials: { 'openai/api-key': { value: SECRETS.openai } },
      policies: ALLOW_ALL,
      allow_loopback: true,
    },
    listen: { host: '127.0.0.1', port: vaultPort },
    banner: false,
    log: () => undefined,
  });
  try {
    assert.ok(await pollUntil(async () => (await readyz()) === 200, 10_000), '/readyz returns to 200 when the vault is back');
    assert.equal(await get('http://api.openai.com/v1/models'), 200);
  } finally {
    await s.sidecar.vault.close();
    await revived.close();
  }
});

test('every log line is JSON; one canonical line per request; no secret anywhere', () => {
  const parsed = s.logs.map((l) => JSON.parse(l) as Record<string, unknown>);
  const req = parsed.filter((o) => o.msg === 'request');
  assert.equal(req.length, 7, 'one line for each of the 7 requests');
  for (const l of req) {
    for (const k of ['id', 'form', 'route', 'method', 'host', 'status', 'code', 'vault_ms', 'upstream_ms', 'total_ms', 'bytes_in', 'bytes_out', 'cache']) {
      assert.ok(k in l, `canonical field ${k}`);
    }
  }
  assert.equal(new Set(req.map((l) => l.id)).size, req.length, 'request ids are unique');
  const denied = req.find((l) => l.status === 403)!;
  assert.equal(denied.code, 'NO_ROUTE');
  assert.equal(denied.host, 'unlisted.example');
  for (const line of s.logs) for (const v of Object.values(SECRETS)) assert.ok(!line.includes(v));
});

test('/healthz, /routes and /explain on the admin port carry no secret', async () => {
  const h = await request(`${s.adminUrl}/healthz`);
  assert.equal(h.statusCode, 200);
  await h.body.dump();
  const r = await request(`${s.adminUrl}/routes`);
  const routes = await r.body.text();
  assert.match(routes, /"credential":"openai\/api-key"/);
  const e = await request(`${s.adminUrl}/explain?method=POST&url=${encodeURIComponent('http://api.openai.com/v1/chat/completions')}`);
  const ex = (await e.body.json()) as { route: string; credential: string; mode: string };
  recordEvidence('explain', [JSON.stringify(ex), routes]);
  assert.equal(ex.route, 'openai');
  assert.equal(ex.credential, 'openai/api-key');
  assert.equal(ex.mode, 'inject');
  for (const v of Object.values(SECRETS)) assert.ok(!routes.includes(v) && !JSON.stringify(ex).includes(v));
});
