/**
 * Labels (issue 9): metrics and the canonical log line carry the agent name, which
 * comes from config (bounded); refusals before identification carry none. The proxy
 * token, however it was presented, never appears in a log line, a metric, an error
 * body or anything sent upstream.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client, request } from 'undici';
import { newToken, sha256, startGateway, viaProxy, type Gateway } from '../../helpers/gateway.js';

const ALPHA = newToken('alpha');
const BETA = newToken('beta');
const WRONG = newToken('wrong');

let gw: Gateway;
let client: Client;
before(async () => {
  gw = await startGateway({
    identities: [],
    credentials: { 'openai/key': 'sk-labels-SECRET-1' },
    yaml: `
routes:
  - { name: openai, match: { host: api.openai.com }, prefix: /openai, upstream: "\${ECHO}", allow_plaintext: true, credential: openai/key }
  - { name: docs, match: { host: docs.test }, upstream: "\${ECHO}", allow_plaintext: true }
agents:
  - { name: alpha, token_sha256: ${sha256(ALPHA)}, routes: [openai, docs] }
  - { name: beta, token_sha256: ${sha256(BETA)}, routes: [docs] }
`,
    tokens: [ALPHA, BETA, WRONG],
  });
  client = new Client(gw.proxyUrl);
});
after(async () => {
  await client.close();
  await gw.close();
});

test('requests_total and the canonical line carry the agent; the token appears nowhere', async () => {
  assert.equal((await viaProxy(client, 'http://api.openai.com/v1/a', { auth: `Bearer ${ALPHA}` })).status, 200);
  assert.equal((await viaProxy(client, 'http://docs.test/b', { auth: `Basic ${Buffer.from(`beta:${BETA}`).toString('base64')}` })).status, 200);
  assert.equal((await viaProxy(client, 'http://api.openai.com/v1/c', { auth: `Bearer ${BETA}` })).status, 403);
  assert.equal((await viaProxy(client, 'http://api.openai.com/v1/d', { auth: `Bearer ${WRONG}` })).status, 407);
  const seg = await request(`${gw.proxyUrl}/_agent/${ALPHA}/openai/v1/e`);
  const upstreamSaw = await seg.body.text();
  assert.equal(seg.statusCode, 200);

  const m = await (await request(`${gw.adminUrl}/metrics`)).body.text();
  const has = (s: string): boolean => m.includes(s);
  assert.ok(has('sanctum_sidecar_requests_total{route="openai",method="GET",code_class="2xx",outcome="forwarded",agent="alpha"} 2'), m);
  assert.ok(has('sanctum_sidecar_requests_total{route="docs",method="GET",code_class="2xx",outcome="forwarded",agent="beta"} 1'));
  assert.ok(has('sanctum_sidecar_requests_total{route="openai",method="GET",code_class="4xx",outcome="denied",agent="beta"} 1'));
  assert.ok(has('sanctum_sidecar_requests_total{route="none",method="GET",code_class="4xx",outcome="denied",agent=""} 1'), 'unidentified: no agent');
  assert.ok(has('sanctum_sidecar_denied_requests_total{reason="PROXY_AUTH_REQUIRED"} 1'));
  assert.ok(has('sanctum_sidecar_denied_requests_total{reason="AGENT_ROUTE_DENIED"} 1'));

  const lines = gw.requestLines();
  assert.deepEqual(
    lines.map((l) => [l.agent, l.route, l.status]),
    [
      ['alpha', 'openai', 200],
      ['beta', 'docs', 200],
      ['beta', 'openai', 403],
      [null, null, 407],
      ['alpha', 'openai', 200],
    ],
  );
  for (const tok of [ALPHA, BETA, WRONG]) {
    assert.ok(!m.includes(tok), 'no token in metrics');
    for (const l of gw.logs) assert.ok(!l.includes(tok), `no token in the log: ${l.slice(0, 120)}`);
    for (const r of gw.echo.requests) assert.ok(!JSON.stringify(r.headers).includes(tok) && !r.url.includes(tok), 'no token upstream');
    assert.ok(!upstreamSaw.includes(tok));
  }
});
