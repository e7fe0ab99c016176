/**
 * Fail closed on the vault (I11): for each failure the agent gets the catalogued status,
 * code and headers, and the upstream receives nothing.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startStack, STANDARD_ROUTES, SECRETS, type Stack } from '../../helpers/stack.js';

let s: Stack;
before(async () => {
  s = await startStack({
    routes: `${STANDARD_ROUTES}
  - name: missing
    match: { host: missing.test }
    upstream: \${ECHO}
    allow_plaintext: true
    credential: nothing/here
  - name: denied
    match: { host: denied.test }
    upstream: \${ECHO}
    allow_plaintext: true
    credential: forbidden/key
`,
    credentials: {
      'openai/api-key': SECRETS.openai,
      'github/token': SECRETS.github,
      'forbidden/key': 'sk-forbidden-SECRET',
    },
    vaultOptions: {
      policies: [
        { name: 'not-forbidden', principal: 'agent:*', resources: ['openai/*', 'github/*', 'nothing/*'], actions: ['use', 'retrieve', 'list'] },
      ],
    },
  });
});
after(() => s.close());

async function viaProxy(url: string): Promise<{ status: number; headers: Record<string, unknown>; body: { error: { code: string; message: string; route: string | null } } }> {
  const res = await request(url, { dispatcher: s.agent });
  const body = (await res.body.json()) as { error: { code: string; message: string; route: string | null } };
  return { status: res.statusCode, headers: res.headers, body };
}

test('CREDENTIAL_NOT_FOUND: 502 and nothing sent upstream', async () => {
  const n = s.echo.requests.length;
  const r = await viaProxy('http://missing.test/x');
  assert.equal(r.status, 502);
  assert.equal(r.headers['x-sanctum-error'], 'CREDENTIAL_NOT_FOUND');
  assert.equal(r.body.error.code, 'CREDENTIAL_NOT_FOUND');
  assert.equal(r.body.error.route, 'missing');
  assert.equal(s.echo.requests.length, n);
});

test('ACCESS_DENIED by policy: 403 VAULT_DENIED and nothing sent upstream', async () => {
  const n = s.echo.requests.length;
  const r = await viaProxy('http://denied.test/x');
  assert.equal(r.status, 403);
  assert.equal(r.headers['x-sanctum-error'], 'VAULT_DENIED');
  assert.equal(s.echo.requests.length, n);
});

test('VAULT_LOCKED: 503 with Retry-After and nothing sent upstream', async () => {
  s.vault.vault.setLocked(true);
  try {
    const n = s.echo.requests.length;
    const r = await viaProxy('http://api.openai.com/v1/models');
    assert.equal(r.status, 503);
    assert.equal(r.headers['x-sanctum-error'], 'VAULT_LOCKED');
    assert.ok(Number(r.headers['retry-after']) >= 1);
    assert.equal(s.echo.requests.length, n);
  } finally {
    s.vault.vault.setLocked(false);
  }
});

test('vault timeout: 504 VAULT_TIMEOUT and nothing sent upstream', async () => {
  s.vault.vault.setDelay(1500);
  try {
    const n = s.echo.requests.length;
    const r = await viaProxy('http://api.openai.com/v1/models');
    assert.equal(r.status, 504);
    assert.equal(r.headers['x-sanctum-error'], 'VAULT_TIMEOUT');
    assert.equal(s.echo.requests.length, n);
  } finally {
    s.vault.vault.setDelay(0);
  }
});

test('RATE_LIMITED by the vault: 429 with Retry-After and nothing sent upstream', async () => {
  const limited = await startStack({ routes: STANDARD_ROUTES, vaultOptions: { rateLimitPerSecond: 2 } });
  try {
    const n = limited.echo.requests.length;
    const results = await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        const res = await request(`${limited.proxyUrl}/openai/v1/models?i=${i}`);
        const body = await res.body.text();
        return { status: res.statusCode, headers: res.headers, body };
      }),
    );
    const refused = results.filter((r) => r.status === 429);
    assert.ok(refused.length >= 1, `at least one call was rate limited: ${results.map((r) => r.status).join(',')}`);
    for (const r of refused) {
      assert.equal(r.headers['x-sanctum-error'], 'VAULT_RATE_LIMITED');
      assert.ok(Number(r.headers['retry-after']) >= 1);
    }
    assert.equal(limited.echo.requests.length, n + results.filter((r) => r.status === 200).length, 'refused requests never reached the upstream');
  } finally {
    await limited.close();
  }
});

test('vault down: 503 VAULT_UNAVAILABLE with Retry-After and nothing sent upstream', async () => {
  await s.vault.vault.close();
  const n = s.echo.requests.length;
  const r = await viaProxy('http://api.openai.com/v1/models');
  assert.equal(r.status, 503);
  assert.equal(r.headers['x-sanctum-error'], 'VAULT_UNAVAILABLE');
  assert.ok(Number(r.headers['retry-after']) >= 1);
  assert.equal(s.echo.requests.length, n);
  // A cached credential (github, cache_ttl 60s) would still serve; an uncached one never falls back.
  assert.ok(s.logs.every((l) => !l.includes(SECRETS.openai)));
});
