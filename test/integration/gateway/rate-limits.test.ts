/**
 * Rate limits (issue 9): a burst of 100 concurrent requests against 10 per second gives
 * exactly 10 passes and 90 × 429 with Retry-After, counted per agent and route. The
 * clock is frozen so the count is exact: tokens come back only when the test moves it.
 * Also: per-agent-per-route buckets are separate per agent, the concurrent-stream cap
 * counts open responses, and a reload rebuilds changed limits and keeps unchanged ones.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Pool } from 'undici';
import { pollUntil } from '../../helpers/child.js';
import { newToken, sha256, startGateway, viaProxy, type Gateway } from '../../helpers/gateway.js';

const T = { alpha: newToken('alpha'), beta: newToken('beta'), gamma: newToken('gamma') };
let clock = 1_000_000;

const yaml = (gammaLimit: string): string => `
egress: { unmatched: deny, block_private_addresses: false }
routes:
  - { name: openai, match: { host: api.openai.com }, upstream: "\${ECHO}", allow_plaintext: true, credential: openai/key }
  - { name: github, match: { host: api.github.com }, upstream: "\${ECHO}", allow_plaintext: true, credential: github/key, rate_limit: { requests: 5, per: minute } }
  - { name: slow, match: { host: slow.test }, upstream: "\${ECHO}", allow_plaintext: true }
agents:
  - { name: alpha, token_sha256: ${sha256(T.alpha)}, routes: [openai, github], rate_limit: { requests: 10, per: second, burst: 10 } }
  - { name: beta, token_sha256: ${sha256(T.beta)}, routes: [openai, github] }
  - { name: gamma, token_sha256: ${sha256(T.gamma)}, routes: [openai, slow], rate_limit: ${gammaLimit} }
`;

let gw: Gateway;
let pool: Pool;
before(async () => {
  gw = await startGateway({
    identities: [],
    credentials: { 'openai/key': 'sk-ratelimit-SECRET-1', 'github/key': 'ghp_ratelimit_SECRET_2' },
    yaml: yaml('{ max_streams: 2 }'),
    tokens: Object.values(T),
    now: () => clock,
  });
  pool = new Pool(gw.proxyUrl, { connections: 100, pipelining: 1 });
});
after(async () => {
  await pool.close();
  await gw.close();
});

const get = (url: string, token: string, signal?: AbortSignal) =>
  viaProxy(pool, url, { auth: `Bearer ${token}`, ...(signal ? { signal } : {}) });

test('100 concurrent requests against 10 per second: exactly 10 pass, 90 get 429 with Retry-After', async () => {
  const before = gw.echo.requests.length;
  const results = await Promise.all(Array.from({ length: 100 }, () => get('http://api.openai.com/v1/models', T.alpha)));
  const ok = results.filter((r) => r.status === 200);
  const limited = results.filter((r) => r.status === 429);
  assert.equal(ok.length, 10);
  assert.equal(limited.length, 90);
  for (const r of limited) {
    assert.equal(r.headers['x-sanctum-error'], 'RATE_LIMITED');
    assert.equal(r.headers['retry-after'], '1', 'one token is back within 100 ms: Retry-After rounds up to 1 s');
  }
  assert.equal(gw.echo.requests.length, before + 10, 'only the admitted requests went upstream');
  assert.equal(await gw.metric('sanctum_sidecar_rate_limited_total{agent="alpha",route="openai"}'), 90);
  assert.equal(
    await gw.metric('sanctum_sidecar_requests_total{route="openai",method="GET",code_class="4xx",outcome="rate_limited",agent="alpha"}'),
    90,
  );
  // Another agent has its own budget (beta has no agent limit at all).
  assert.equal((await get('http://api.openai.com/v1/models', T.beta)).status, 200);

  clock += 250; // 2.5 tokens back
  const next = await Promise.all(Array.from({ length: 3 }, () => get('http://api.openai.com/v1/models', T.alpha)));
  assert.deepEqual(next.map((r) => r.status).sort(), [200, 200, 429]);
  clock += 1000; // refilled to the burst, never beyond
  const refill = await Promise.all(Array.from({ length: 12 }, () => get('http://api.openai.com/v1/models', T.alpha)));
  assert.equal(refill.filter((r) => r.status === 200).length, 10);
});

test('a route limit applies per agent per route, with Retry-After until the next token', async () => {
  clock += 10_000;
  for (let i = 0; i < 5; i++) assert.equal((await get('http://api.github.com/user', T.alpha)).status, 200);
  const sixth = await get('http://api.github.com/user', T.alpha);
  assert.equal(sixth.status, 429);
  assert.equal(sixth.headers['retry-after'], '12', '5 per minute: one token every 12 s');
  for (let i = 0; i < 5; i++) assert.equal((await get('http://api.github.com/user', T.beta)).status, 200, "beta's bucket is its own");
  assert.equal((await get('http://api.github.com/user', T.beta)).status, 429);
  assert.equal(await gw.metric('sanctum_sidecar_rate_limited_total{agent="alpha",route="github"}'), 1);
  assert.equal(await gw.metric('sanctum_sidecar_rate_limited_total{agent="beta",route="github"}'), 1);
});

test('the concurrent-stream cap counts responses until they close', async () => {
  const hang = new AbortController();
  const open = [get('http://slow.test/hang', T.gamma, hang.signal).catch(() => null), get('http://slow.test/hang', T.gamma, hang.signal).catch(() => null)];
  assert.ok(await pollUntil(async () => gw.echo.requests.filter((r) => r.url === '/hang').length === 2, 3000), 'two streams are open');
  const third = await get('http://api.openai.com/v1/models', T.gamma);
  assert.equal(third.status, 429);
  assert.equal(third.headers['retry-after'], '1');
  hang.abort();
  await Promise.all(open);
  assert.ok(await pollUntil(async () => (await get('http://api.openai.com/v1/models', T.gamma)).status === 200, 3000), 'a closed stream frees its slot');
});

test('a reload rebuilds changed limits and keeps the state of unchanged ones', async () => {
  // Exhaust alpha's bucket, then reload with gamma's limit changed only.
  clock += 10_000;
  await Promise.all(Array.from({ length: 10 }, () => get('http://api.openai.com/v1/models', T.alpha)));
  assert.equal((await get('http://api.openai.com/v1/models', T.alpha)).status, 429);
  await gw.reload(yaml('{ requests: 1, per: minute }'));
  assert.equal((await get('http://api.openai.com/v1/models', T.alpha)).status, 429, "alpha's unchanged bucket kept its (empty) state");
  assert.equal((await get('http://api.github.com/user', T.beta)).status, 429, "beta's unchanged route bucket too");
  assert.equal((await get('http://api.openai.com/v1/models', T.gamma)).status, 200, "gamma's new bucket starts full");
  const g = await get('http://api.openai.com/v1/models', T.gamma);
  assert.equal(g.status, 429);
  assert.equal(g.headers['retry-after'], '60');
});
