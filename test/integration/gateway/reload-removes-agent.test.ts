/**
 * Reload (issue 9): removing an agent from routes.yaml ends its access on its next
 * request — by token and on its dedicated listener — and closes its vault session,
 * while the remaining agent keeps its own session. Re-adding the agent opens a fresh
 * session lazily, on the first request that needs it.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { Client } from 'undici';
import { pollUntil } from '../../helpers/child.js';
import { newToken, sha256, startGateway, viaProxy, type Gateway } from '../../helpers/gateway.js';

const ALPHA = newToken('alpha');
const BETA = newToken('beta');
const CREDS = { 'openai/alpha': 'sk-ALPHA-reload-SECRET-1', 'openai/beta': 'sk-BETA-reload-SECRET-2' };

const routes = `
routes:
  - { name: openai, match: { host: api.openai.com }, upstream: "\${ECHO}", allow_plaintext: true, credential: "openai/{agent}" }
agents:
  - { name: alpha, token_sha256: ${sha256(ALPHA)}, vault: { agent: alpha, key_file: \${KEY:alpha} }, routes: [openai] }
`;
const beta = `  - { name: beta, token_sha256: ${sha256(BETA)}, vault: { agent: beta, key_file: \${KEY:beta} }, routes: [openai], listen: "127.0.0.1:0" }\n`;

let gw: Gateway;
let client: Client;
before(async () => {
  gw = await startGateway({ identities: ['alpha', 'beta'], credentials: CREDS, yaml: routes + beta, tokens: [ALPHA, BETA] });
  client = new Client(gw.proxyUrl);
});
after(async () => {
  await client.close();
  await gw.close();
});

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });
}

test('removing an agent ends its access on its next request and closes its vault session', async () => {
  const b = await viaProxy(client, 'http://api.openai.com/v1/models', { auth: `Bearer ${BETA}` });
  assert.equal(b.status, 200);
  assert.equal((gw.echo.requests.at(-1)!.headers as Record<string, string>).authorization, `Bearer ${CREDS['openai/beta']}`);
  const own = gw.sidecar.agentListener('beta')!;
  const onListener = new Client(`http://127.0.0.1:${own.port}`);
  assert.equal((await viaProxy(onListener, 'http://api.openai.com/v1/models')).status, 200, 'the dedicated listener needs no token');
  assert.equal((await viaProxy(client, 'http://api.openai.com/v1/models', { auth: `Bearer ${ALPHA}` })).status, 200);
  const betaSession = gw.sidecar.vaultFor('beta')!;
  const alphaSession = gw.sidecar.vaultFor('alpha')!;
  assert.ok(betaSession !== null && alphaSession !== null && betaSession !== alphaSession, 'one session per identity');
  assert.equal(betaSession.state.status, 'ready');

  await gw.reload(routes);

  const r = await viaProxy(client, 'http://api.openai.com/v1/models', { auth: `Bearer ${BETA}` });
  assert.equal(r.status, 407);
  // A request already on a keep-alive connection to the dropped listener is refused too.
  const l = await viaProxy(onListener, 'http://api.openai.com/v1/models').catch(() => ({ status: 0 }));
  assert.ok(l.status === 407 || l.status === 0, `the dropped listener refuses (${l.status})`);
  await onListener.close().catch(() => undefined);
  assert.ok(await refused(own.port), 'the dropped listener no longer accepts connections');
  assert.equal(gw.sidecar.vaultFor('beta'), null);
  assert.ok(await pollUntil(async () => betaSession.state.status === 'closed', 5000), "beta's vault session is closed");
  assert.equal(alphaSession.state.status, 'ready', "alpha's session is kept");
  assert.equal(gw.sidecar.vaultFor('alpha'), alphaSession);
  const a = await viaProxy(client, 'http://api.openai.com/v1/models', { auth: `Bearer ${ALPHA}` });
  assert.equal(a.status, 200);
});

test('re-adding the agent opens a new session on its first request', async () => {
  await gw.reload(routes + beta);
  assert.equal(gw.sidecar.vaultFor('beta'), null, 'sessions are created lazily');
  const b = await viaProxy(client, 'http://api.openai.com/v1/models', { auth: `Bearer ${BETA}` });
  assert.equal(b.status, 200);
  assert.equal((gw.echo.requests.at(-1)!.headers as Record<string, string>).authorization, `Bearer ${CREDS['openai/beta']}`);
  assert.equal(gw.sidecar.vaultFor('beta')!.state.status, 'ready');
});
