/**
 * Tripwires (issue 9): an agent's placeholder may travel only to its own credential
 * routes, where the sidecar replaces it; the proxy token may reach no upstream. Sent to
 * another allowed host (a passthrough host, a plain route), in a header, the query or
 * the body, the request is blocked with 403 TRIPWIRE before anything leaves, counted by
 * agent and kind, and logged as a warning naming the agent and the host. Bodies are
 * searched in their first 64 KiB, and still stream intact.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Client } from 'undici';
import { newToken, sha256, startGateway, viaProxy, type Gateway } from '../../helpers/gateway.js';

const ALPHA = newToken('alpha');
const BETA = newToken('beta');
const P_ALPHA = 'sk-alpha-placeholder-0001';
const P_BETA = 'ghp-beta-placeholder-0002';
const SECRET = 'sk-tripwire-openai-SECRET-9';

let gw: Gateway;
let client: Client;
let passthrough: string;
before(async () => {
  gw = await startGateway({
    identities: [],
    credentials: { 'openai/key': SECRET, 'github/key': 'ghp_tripwire_SECRET_8' },
    yaml: `
egress: { unmatched: deny, allow: ["localhost:\${ECHO2_PORT}"], block_private_addresses: false }
routes:
  - { name: openai, match: { host: api.openai.com }, upstream: "\${ECHO}", allow_plaintext: true, credential: openai/key }
  - { name: github, match: { host: api.github.com }, upstream: "\${ECHO}", allow_plaintext: true, credential: github/key }
  - { name: docs, match: { host: docs.test }, upstream: "\${ECHO2}", allow_plaintext: true }
agents:
  - { name: alpha, token_sha256: ${sha256(ALPHA)}, routes: [openai, docs], placeholders: [${P_ALPHA}] }
  - { name: beta, token_sha256: ${sha256(BETA)}, routes: [github, docs], placeholders: [${P_BETA}] }
`,
    tokens: [ALPHA, BETA],
  });
  client = new Client(gw.proxyUrl);
  passthrough = `http://localhost:${gw.echo2.port}`;
});
after(async () => {
  await client.close();
  await gw.close();
});

const auth = `Bearer ${ALPHA}`;

async function blocked(what: string, url: string, opts: { headers?: Record<string, string>; body?: string | Buffer }, kind: string): Promise<void> {
  const echoed = gw.echo.requests.length + gw.echo2.requests.length;
  const before = await gw.metric(`sanctum_sidecar_tripwires_total{agent="alpha",kind="${kind}"}`);
  const r = await viaProxy(client, url, { auth, ...opts });
  assert.equal(r.status, 403, what);
  assert.equal(r.headers['x-sanctum-error'], 'TRIPWIRE', what);
  assert.equal(gw.echo.requests.length + gw.echo2.requests.length, echoed, `${what}: nothing left`);
  assert.equal(await gw.metric(`sanctum_sidecar_tripwires_total{agent="alpha",kind="${kind}"}`), before + 1, `${what}: counted`);
}

test('the placeholder sent to another allowed host is blocked, counted and logged', async () => {
  // The passthrough host is allowed for every agent; only the placeholder makes it a tripwire.
  const plain = await viaProxy(client, `${passthrough}/ok`, { auth });
  assert.equal(plain.status, 200);
  await blocked('in a header, to a passthrough host', `${passthrough}/x`, { headers: { 'x-api-token': P_ALPHA } }, 'placeholder');
  const warn = gw.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'tripwire: request blocked');
  assert.equal(warn.length, 1);
  assert.equal(warn[0]!.level, 'warn');
  assert.equal(warn[0]!.agent, 'alpha');
  assert.equal(warn[0]!.host, 'localhost');
  assert.equal(warn[0]!.kind, 'placeholder');
  assert.ok(!JSON.stringify(warn[0]).includes(P_ALPHA), 'the log names the agent and host, not the string');
  const line = gw.requestLines().at(-1)!;
  assert.equal(line.code, 'TRIPWIRE');
  assert.equal(line.agent, 'alpha');
  assert.equal(line.status, 403);
});

test('headers, query and body are all searched, on plain routes and passthrough', async () => {
  await blocked('in Authorization, to its own route without a credential', 'http://docs.test/page', { headers: { authorization: `Bearer ${P_ALPHA}` } }, 'placeholder');
  await blocked('in the query', `http://docs.test/search?key=${P_ALPHA}`, {}, 'placeholder');
  await blocked('percent-encoded in the query', `http://docs.test/search?key=${encodeURIComponent(P_ALPHA).replace(/-/g, '%2D')}`, {}, 'placeholder');
  await blocked('in a JSON body, to a passthrough host', `${passthrough}/upload`, { body: JSON.stringify({ api_key: P_ALPHA }) }, 'placeholder');
  const big = Buffer.concat([randomBytes(10 * 1024), Buffer.from(P_ALPHA), randomBytes(1024 * 1024)]);
  await blocked('10 KiB into a 1 MiB body', 'http://docs.test/upload', { body: big }, 'placeholder');
  await blocked("beta's placeholder on alpha's credential route", 'http://api.openai.com/v1/files', { body: `{"k":"${P_BETA}"}` }, 'placeholder');
});

test('on its own credential route the placeholder is expected: replaced in the header, allowed in the body', async () => {
  const r = await viaProxy(client, 'http://api.openai.com/v1/chat/completions', {
    auth,
    headers: { authorization: `Bearer ${P_ALPHA}`, 'content-type': 'application/json' },
    body: JSON.stringify({ note: P_ALPHA }),
  });
  assert.equal(r.status, 200);
  const seen = gw.echo.requests.at(-1)!.headers as Record<string, string>;
  assert.equal(seen.authorization, `Bearer ${SECRET}`);
  assert.equal(r.json!.body, JSON.stringify({ note: P_ALPHA }));
});

test('the proxy token may reach no upstream, not even its own route', async () => {
  await blocked('in the body to its own credential route', 'http://api.openai.com/v1/chat/completions', { body: `{"leak":"${ALPHA}"}` }, 'proxy_token');
  await blocked('in a header to a plain route', 'http://docs.test/x', { headers: { 'x-forwarded-token': ALPHA } }, 'proxy_token');
  await blocked('in the query to a passthrough host', `${passthrough}/x?t=${ALPHA}`, {}, 'proxy_token');
  // Where the route strips and replaces the header, the token goes nowhere: no tripwire.
  const r = await viaProxy(client, 'http://api.openai.com/v1/models', { auth, headers: { authorization: `Bearer ${ALPHA}` } });
  assert.equal(r.status, 200);
  assert.equal((gw.echo.requests.at(-1)!.headers as Record<string, string>).authorization, `Bearer ${SECRET}`);
  for (const l of gw.logs) assert.ok(!l.includes(ALPHA), 'the token is never logged');
});

test('searched bodies still stream intact; megabytes in, a body is no longer searched', async () => {
  const body = randomBytes(3 * 1024 * 1024);
  const r = await viaProxy(client, 'http://docs.test/upload', { auth, body });
  assert.equal(r.status, 200);
  assert.equal(r.json!.bodyBytes, body.length);
  assert.equal(r.json!.bodySha256, createHash('sha256').update(body).digest('hex'));
  const late = Buffer.concat([randomBytes(2 * 1024 * 1024), Buffer.from(P_ALPHA)]);
  const l = await viaProxy(client, 'http://docs.test/upload', { auth, body: late });
  assert.equal(l.status, 200, 'the search covers the first 64 KiB (and whatever arrived with them), not megabytes later');
  assert.equal(l.json!.bodySha256, createHash('sha256').update(late).digest('hex'));
});
