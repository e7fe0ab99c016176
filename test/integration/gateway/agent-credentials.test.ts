/**
 * Credentials per agent (issue 9): `{agent}` in a credential path gives one route every
 * agent's own credential, resolved through that agent's vault identity (or the
 * top-level one); the credential cache is scoped per agent, so a header cached for
 * one agent is never served to another — not even when the vault would refuse it.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from 'undici';
import { newToken, sha256, startGateway, viaProxy, type Gateway } from '../../helpers/gateway.js';

const T = { alpha: newToken('alpha'), beta: newToken('beta'), gamma: newToken('gamma') };
const CREDS = {
  'openai/alpha/key': 'sk-ALPHA-cred-SECRET-1',
  'openai/beta/key': 'sk-BETA-cred-SECRET-2',
  'openai/gamma/key': 'sk-GAMMA-cred-SECRET-3',
  'shared/key': 'sk-SHARED-cred-SECRET-4',
};

let gw: Gateway;
let client: Client;
before(async () => {
  gw = await startGateway({
    identities: ['alpha', 'beta'],
    credentials: CREDS,
    policies: [
      { name: 'alpha', principal: 'agent:alpha', resources: ['openai/alpha/*', 'shared/*'], actions: ['use'] },
      { name: 'beta', principal: 'agent:beta', resources: ['openai/beta/*'], actions: ['use'] },
      { name: 'gateway', principal: 'agent:gateway', resources: ['openai/gamma/*'], actions: ['use'] },
    ],
    yaml: `
routes:
  - { name: openai, match: { host: api.openai.com }, upstream: "\${ECHO}", allow_plaintext: true, credential: "openai/{agent}/key", cache_ttl: 60s }
  - { name: shared, match: { host: api.shared.test }, upstream: "\${ECHO}", allow_plaintext: true, credential: shared/key, cache_ttl: 60s }
agents:
  - { name: alpha, token_sha256: ${sha256(T.alpha)}, vault: { agent: alpha, key_file: \${KEY:alpha} }, routes: [openai, shared] }
  - { name: beta, token_sha256: ${sha256(T.beta)}, vault: { agent: beta, key_file: \${KEY:beta} }, routes: [openai, shared] }
  - { name: gamma, token_sha256: ${sha256(T.gamma)}, routes: [openai] }
`,
    tokens: Object.values(T),
  });
  client = new Client(gw.proxyUrl);
});
after(async () => {
  await client.close();
  await gw.close();
});

const as = (agent: keyof typeof T, url: string) => viaProxy(client, url, { auth: `Bearer ${T[agent]}` });
// What the upstream received (its echoed body masks the credential: the response guard).
const injected = (r: { status: number }): string => {
  assert.equal(r.status, 200);
  return gw.echo.requests.at(-1)!.headers.authorization!;
};

test('one {agent} route gives each agent its own credential, through its own vault identity', async () => {
  assert.equal(injected(await as('alpha', 'http://api.openai.com/v1/models')), `Bearer ${CREDS['openai/alpha/key']}`);
  assert.equal(injected(await as('beta', 'http://api.openai.com/v1/models')), `Bearer ${CREDS['openai/beta/key']}`);
  assert.equal(injected(await as('gamma', 'http://api.openai.com/v1/models')), `Bearer ${CREDS['openai/gamma/key']}`);
  const calls = gw.vault.audit.filter((e) => e.method === 'use' && e.path?.startsWith('openai/')).map((e) => `${e.agent}:${e.path}`);
  assert.deepEqual(calls.sort(), ['alpha:openai/alpha/key', 'beta:openai/beta/key', 'gateway:openai/gamma/key'], 'gamma has no vault: of its own');
});

test("the cache is per agent: one agent's cached header is never another's", async () => {
  const uses = (): number => gw.vault.audit.filter((e) => e.method === 'use' && e.path === 'shared/key').length;
  assert.equal(injected(await as('alpha', 'http://api.shared.test/a')), `Bearer ${CREDS['shared/key']}`);
  assert.equal(injected(await as('alpha', 'http://api.shared.test/b')), `Bearer ${CREDS['shared/key']}`);
  assert.equal(uses(), 1, "alpha's second request is a cache hit");
  // beta shares the route and the path but not alpha's cache: its own vault identity is asked, and refused.
  const b = await as('beta', 'http://api.shared.test/c');
  assert.equal(b.status, 403);
  assert.equal(b.headers['x-sanctum-error'], 'VAULT_DENIED');
  assert.equal(uses(), 2);
  assert.ok(!b.text.includes(CREDS['shared/key']));
  // Templated and cached: beta's second call is a hit on beta's own entry.
  assert.equal(injected(await as('beta', 'http://api.openai.com/v1/x')), `Bearer ${CREDS['openai/beta/key']}`);
  assert.equal(injected(await as('alpha', 'http://api.openai.com/v1/x')), `Bearer ${CREDS['openai/alpha/key']}`);
  assert.equal(await gw.metric('sanctum_sidecar_credential_cache_events_total{route="shared",event="hit"}'), 1);
  assert.equal(await gw.metric('sanctum_sidecar_credential_cache_events_total{route="openai",event="hit"}'), 2);
});
