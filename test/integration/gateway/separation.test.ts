/**
 * Separation (issue 9): two agents with different vault identities share one gateway.
 * Each receives its own credential (through one `{agent}` route and through routes of
 * its own), the vault sees each agent's own identity, neither can use the other's
 * routes, and a token that is missing, wrong, wrongly cased, empty, mismatched with
 * its Basic user name, or belongs to a removed agent gets 407 with Proxy-Authenticate.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client, ProxyAgent } from 'undici';
import { call, newToken, sha256, startGateway, viaProxy, type Gateway } from '../../helpers/gateway.js';

const ALPHA = newToken('alpha');
const BETA = newToken('beta');
const CREDS = {
  'openai/alpha': 'sk-ALPHA-openai-SECRET-111',
  'openai/beta': 'sk-BETA-openai-SECRET-222',
  'anthropic/alpha': 'sk-ant-ALPHA-SECRET-333',
  'github/beta': 'ghp_BETA_SECRET_444',
};

const routes = `
egress: { unmatched: deny, block_private_addresses: false }
routes:
  - { name: openai, match: { host: api.openai.com }, prefix: /openai, upstream: "\${ECHO}", allow_plaintext: true, credential: "openai/{agent}" }
  - name: anthropic
    match: { host: api.anthropic.com }
    upstream: "\${ECHO}"
    allow_plaintext: true
    credential: anthropic/alpha
    inject: { header_type: custom, header_name: x-api-key }
  - { name: github, match: { host: api.github.com }, upstream: "\${ECHO}", allow_plaintext: true, credential: github/beta }
`;
const alpha = `  - { name: alpha, token_sha256: ${sha256(ALPHA)}, vault: { agent: alpha, key_file: \${KEY:alpha} }, routes: [openai, anthropic] }`;
const beta = `  - { name: beta, token_sha256: ${sha256(BETA)}, vault: { agent: beta, key_file: \${KEY:beta} }, routes: [openai, github] }`;

let gw: Gateway;
let raw: Client;
const agents: ProxyAgent[] = [];
function via(opts: { token?: string; uri?: string }): ProxyAgent {
  const a = new ProxyAgent({ uri: opts.uri ?? gw.proxyUrl, proxyTunnel: false, ...(opts.token !== undefined ? { token: opts.token } : {}) });
  agents.push(a);
  return a;
}

before(async () => {
  gw = await startGateway({
    identities: ['alpha', 'beta'],
    credentials: CREDS,
    // The vault enforces the identities too: each may use only its own credentials.
    policies: [
      { name: 'alpha', principal: 'agent:alpha', resources: ['openai/alpha', 'anthropic/alpha'], actions: ['use'] },
      { name: 'beta', principal: 'agent:beta', resources: ['openai/beta', 'github/beta'], actions: ['use'] },
    ],
    yaml: `${routes}agents:\n${alpha}\n${beta}\n`,
    tokens: [ALPHA, BETA],
  });
  raw = new Client(gw.proxyUrl);
});
after(async () => {
  await Promise.all([raw.close(), ...agents.map((a) => a.close())]);
  await gw.close();
});

test('each agent receives its own credential, from its own vault identity', async () => {
  const a = await call('http://api.openai.com/v1/models', { dispatcher: via({ token: `Bearer ${ALPHA}` }), headers: { authorization: 'Bearer sk-placeholder' } });
  assert.equal(a.status, 200);
  const ah = gw.echo.requests.at(-1)!.headers as Record<string, string>;
  assert.equal(ah.authorization, `Bearer ${CREDS['openai/alpha']}`);
  assert.equal(ah['proxy-authorization'], undefined, 'Proxy-Authorization is never forwarded');

  const basic = `Basic ${Buffer.from(`beta:${BETA}`).toString('base64')}`;
  const b = await call('http://api.openai.com/v1/models', { dispatcher: via({ token: basic }) });
  assert.equal(b.status, 200);
  assert.equal((gw.echo.requests.at(-1)!.headers as Record<string, string>).authorization, `Bearer ${CREDS['openai/beta']}`);

  // A proxy URL with user:token (what HTTP_PROXY=http://beta:<token>@host:port sends) works too.
  const url = new URL(gw.proxyUrl);
  const c = await call('http://api.github.com/user', { dispatcher: via({ uri: `http://beta:${BETA}@${url.host}` }) });
  assert.equal(c.status, 200);
  assert.equal((gw.echo.requests.at(-1)!.headers as Record<string, string>).authorization, `Bearer ${CREDS['github/beta']}`);

  const d = await call('http://api.anthropic.com/v1/messages', { dispatcher: via({ token: `bearer ${ALPHA}` }), body: '{}' });
  assert.equal(d.status, 200, 'the auth scheme is case-insensitive');
  assert.equal((gw.echo.requests.at(-1)!.headers as Record<string, string>)['x-api-key'], CREDS['anthropic/alpha']);

  const used = gw.vault.audit.filter((e) => e.method === 'use' && e.allowed).map((e) => `${e.agent}:${e.path}`);
  assert.deepEqual([...new Set(used)].sort(), ['alpha:anthropic/alpha', 'alpha:openai/alpha', 'beta:github/beta', 'beta:openai/beta']);
});

test("neither agent can use the other's routes", async () => {
  const before = gw.echo.requests.length;
  const a = await call('http://api.github.com/user', { dispatcher: via({ token: `Bearer ${ALPHA}` }) });
  assert.equal(a.status, 403);
  assert.equal(a.headers['x-sanctum-error'], 'AGENT_ROUTE_DENIED');
  const b = await call('http://api.anthropic.com/v1/messages', { dispatcher: via({ token: `Bearer ${BETA}` }) });
  assert.equal(b.status, 403);
  assert.equal(b.headers['x-sanctum-error'], 'AGENT_ROUTE_DENIED');
  assert.equal(gw.echo.requests.length, before, 'nothing went upstream');
  const lines = gw.requestLines().filter((l) => l.code === 'AGENT_ROUTE_DENIED');
  assert.deepEqual(lines.map((l) => `${l.agent}:${l.route}`).sort(), ['alpha:github', 'beta:anthropic']);
});

test('a missing, wrong, wrongly cased, empty or mismatched token gets 407 with Proxy-Authenticate', async () => {
  const before = gw.echo.requests.length;
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  const cases: Array<[string, string | undefined]> = [
    ['no Proxy-Authorization', undefined],
    ['a wrong token', `Bearer ${newToken('nobody')}`],
    ['the token wrongly cased', `Bearer ${ALPHA.toUpperCase()}`],
    ['a token one character short', `Bearer ${ALPHA.slice(0, -1)}`],
    ['an empty Bearer token', 'Bearer '],
    ['an empty Basic password', `Basic ${b64('alpha:')}`],
    ["alpha's name with beta's token", `Basic ${b64(`alpha:${BETA}`)}`],
    ['an unknown scheme', `Digest ${ALPHA}`],
    ['Basic that is not base64', `Basic ${ALPHA}!`],
  ];
  for (const [what, token] of cases) {
    const r = await viaProxy(raw, 'http://api.openai.com/v1/models', token === undefined ? {} : { auth: token });
    assert.equal(r.status, 407, what);
    assert.equal(r.headers['x-sanctum-error'], 'PROXY_AUTH_REQUIRED', what);
    assert.match(String(r.headers['proxy-authenticate']), /^Basic realm="sanctum-sidecar"/, what);
    assert.ok(!r.text.includes(ALPHA) && !r.text.includes(BETA), 'the reply never echoes a token');
  }
  assert.equal(gw.echo.requests.length, before, 'nothing went upstream');
  const denied = gw.requestLines().filter((l) => l.code === 'PROXY_AUTH_REQUIRED');
  assert.equal(denied.length, cases.length);
  for (const l of denied) assert.equal(l.agent, null);
});

test("a removed agent's token gets 407 on its next request; the other agent is unaffected", async () => {
  const conn = new Client(gw.proxyUrl, { pipelining: 1 });
  try {
    assert.equal((await viaProxy(conn, 'http://api.openai.com/v1/models', { auth: `Bearer ${BETA}` })).status, 200);
    await gw.reload(`${routes}agents:\n${alpha}\n`);
    // Same keep-alive connection as before the reload: it is each request that is checked.
    const r = await viaProxy(conn, 'http://api.openai.com/v1/models', { auth: `Bearer ${BETA}` });
    assert.equal(r.status, 407);
    assert.equal(r.headers['x-sanctum-error'], 'PROXY_AUTH_REQUIRED');
  } finally {
    await conn.close();
  }
  const r = await viaProxy(raw, 'http://api.openai.com/v1/models', { auth: `Basic ${Buffer.from(`beta:${BETA}`).toString('base64')}` });
  assert.equal(r.status, 407);
  assert.equal(r.headers['x-sanctum-error'], 'PROXY_AUTH_REQUIRED');
  const a = await call('http://api.openai.com/v1/models', { dispatcher: via({ token: `Bearer ${ALPHA}` }) });
  assert.equal(a.status, 200);
  assert.equal((gw.echo.requests.at(-1)!.headers as Record<string, string>).authorization, `Bearer ${CREDS['openai/alpha']}`);
});
