/**
 * Delegate mode (the vault makes the call) and inject-mode caching: single-flight for
 * concurrent misses, cache hits within the TTL, and no caching at the default TTL of 0.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startStack, STANDARD_ROUTES, SECRETS, PLACEHOLDER, type Stack } from '../../helpers/stack.js';

let s: Stack;
before(async () => {
  s = await startStack({
    routes: `${STANDARD_ROUTES}
  - name: payments
    match: { host: api.payments.test }
    prefix: /payments
    upstream: \${ECHO}
    allow_plaintext: true
    credential: openai/api-key
    mode: delegate
    max_body: 1kb
`,
  });
});
after(() => s.close());

function useCalls(path: string): number {
  return s.vault.vault.audit.filter((e) => e.method === 'use' && e.path === path && e.operation === 'http_header').length;
}

test('100 simultaneous misses make one vault call', async () => {
  const before = useCalls('openai/api-key');
  // A slow vault keeps the first call in flight while all 100 requests arrive.
  s.vault.vault.setDelay(600);
  const results = await Promise.all(
    Array.from({ length: 100 }, async (_, i) => {
      const res = await request(`${s.proxyUrl}/openai/v1/models?i=${i}`);
      await res.body.dump();
      return res.statusCode;
    }),
  );
  s.vault.vault.setDelay(0);
  assert.ok(results.every((c) => c === 200));
  assert.equal(useCalls('openai/api-key') - before, 1, 'one vault call for 100 concurrent misses');
  const lines = s.requestLines().filter((l) => l.route === 'openai');
  assert.equal(lines.filter((l) => l.cache === 'coalesced').length, 99);
  assert.equal(lines.filter((l) => l.cache === 'miss').length, 1);
});

test('cache_ttl 0 (default) asks the vault on every sequential request', async () => {
  const before = useCalls('openai/api-key');
  for (let i = 0; i < 3; i++) {
    const res = await request(`${s.proxyUrl}/openai/v1/models`);
    await res.body.dump();
  }
  assert.equal(useCalls('openai/api-key') - before, 3);
});

test('cache_ttl 60s serves repeat requests from the cache', async () => {
  const before = useCalls('github/token');
  for (let i = 0; i < 3; i++) {
    const res = await request('http://api.github.com/user', { dispatcher: s.agent });
    assert.equal(res.statusCode, 200);
    await res.body.dump();
  }
  assert.equal(useCalls('github/token') - before, 1);
  const cap = s.echo.requests[s.echo.requests.length - 1]!;
  assert.equal(cap.headers.authorization, `Bearer ${SECRETS.github}`);
  assert.ok(s.requestLines().some((l) => l.route === 'github' && l.cache === 'hit'));
});

test('delegate mode relays the vault-made response; the sidecar never sees the secret', async () => {
  const n = s.echo.requests.length;
  const res = await request(`${s.proxyUrl}/payments/v1/charges?x=1`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${PLACEHOLDER}`, 'x-trace': 'abc' },
    body: '{"amount":100}',
  });
  assert.equal(res.statusCode, 200);
  const body = (await res.body.json()) as { url: string; method: string; headers: Record<string, string>; body: string };
  assert.equal(body.url, '/v1/charges?x=1');
  assert.equal(body.method, 'POST');
  assert.equal(body.body, '{"amount":100}');
  assert.equal(s.echo.requests.length, n + 1);
  const cap = s.echo.requests[n]!;
  assert.equal(cap.headers.authorization, `Bearer ${SECRETS.openai}`, 'the vault injected the credential');
  assert.equal(cap.headers['x-trace'], 'abc');
  const audit = s.vault.vault.audit.filter((e) => e.operation === 'http_request');
  assert.ok(audit.length >= 1);
});

test('delegate mode refuses a body over max_body with 413, before the vault', async () => {
  const n = s.echo.requests.length;
  const res = await request(`${s.proxyUrl}/payments/v1/charges`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: 'x'.repeat(2048),
  });
  assert.equal(res.statusCode, 413);
  assert.equal(res.headers['x-sanctum-error'], 'BODY_TOO_LARGE');
  await res.body.dump();
  assert.equal(s.echo.requests.length, n);
});

test('delegate mode refuses binary content types with 415', async () => {
  const res = await request(`${s.proxyUrl}/payments/v1/upload`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body: Buffer.from([0, 1, 2, 255]),
  });
  assert.equal(res.statusCode, 415);
  assert.equal(res.headers['x-sanctum-error'], 'UNSUPPORTED_MEDIA_TYPE');
  await res.body.dump();
});

test('delegate calls waiting on a slow vault are capped: beyond the cap, 503 VAULT_BUSY at once', async () => {
  const capped = await startStack({
    extra: 'limits: { max_delegate_in_flight: 2 }',
    routes: `
egress: { block_private_addresses: false }
routes:
  - name: payments
    prefix: /payments
    upstream: \${ECHO}
    allow_plaintext: true
    credential: openai/api-key
    mode: delegate
`,
  });
  try {
    capped.vault.vault.setDelay(300);
    const results = await Promise.all(
      Array.from({ length: 5 }, async (_, i) => {
        const res = await request(`${capped.proxyUrl}/payments/v1/charges?i=${i}`);
        await res.body.dump();
        return { status: res.statusCode, code: res.headers['x-sanctum-error'], retry: res.headers['retry-after'] };
      }),
    );
    capped.vault.vault.setDelay(0);
    assert.equal(results.filter((r) => r.status === 200).length, 2, JSON.stringify(results));
    const busy = results.filter((r) => r.status === 503);
    assert.equal(busy.length, 3);
    for (const b of busy) {
      assert.equal(b.code, 'VAULT_BUSY');
      assert.equal(b.retry, '1');
    }
    assert.equal(capped.echo.requests.length, 2, 'refused requests never reached the upstream');
    // The cap is released as calls finish: the next request goes through.
    const again = await request(`${capped.proxyUrl}/payments/v1/charges`);
    await again.body.dump();
    assert.equal(again.statusCode, 200);
  } finally {
    await capped.close();
  }
});
