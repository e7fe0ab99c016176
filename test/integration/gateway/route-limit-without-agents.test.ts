/**
 * A route's rate_limit without an agents section: it limits the single agent on that
 * route (agent label empty), and nothing else about the single-agent sidecar changes.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startStack, SECRETS, type Stack } from '../../helpers/stack.js';

let s: Stack;
before(async () => {
  s = await startStack({
    routes: `
routes:
  - { name: openai, match: { host: api.openai.com }, upstream: "\${ECHO}", allow_plaintext: true, credential: openai/api-key, rate_limit: { requests: 2, per: minute } }
  - { name: github, match: { host: api.github.com }, upstream: "\${ECHO}", allow_plaintext: true, credential: github/token }
`,
  });
});
after(() => s.close());

test('a route limit applies to the single agent; other routes are unlimited; no token is needed', async () => {
  const statuses: number[] = [];
  let last: Record<string, unknown> = {};
  for (let i = 0; i < 3; i++) {
    const r = await request('http://api.openai.com/v1/models', { dispatcher: s.agent });
    statuses.push(r.statusCode);
    last = { retry: r.headers['retry-after'], code: r.headers['x-sanctum-error'] };
    await r.body.dump();
  }
  assert.deepEqual(statuses, [200, 200, 429]);
  assert.deepEqual(last, { retry: '30', code: 'RATE_LIMITED' });
  for (let i = 0; i < 5; i++) {
    const r = await request('http://api.github.com/user', { dispatcher: s.agent });
    await r.body.dump();
    assert.equal(r.statusCode, 200);
    assert.equal(s.echo.requests.at(-1)!.headers.authorization, `Bearer ${SECRETS.github}`);
  }
  const m = await (await request(`${s.adminUrl}/metrics`)).body.text();
  assert.ok(m.includes('sanctum_sidecar_rate_limited_total{agent="",route="openai"} 1'), m);
  const line = s.requestLines().find((l) => l.status === 429)!;
  assert.equal(line.agent, null);
  assert.equal(line.code, 'RATE_LIMITED');
  assert.equal(line.outcome, 'rate_limited');
});
