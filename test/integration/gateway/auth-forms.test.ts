/**
 * The three ways an agent proves itself (issue 9), besides Proxy-Authorization on
 * absolute-form requests (separation.test.ts):
 *   - a leading `/_agent/<token>` path segment for base-URL SDKs: removed before
 *     prefix matching, never forwarded, never logged;
 *   - a dedicated listener: every request there is that agent, no token;
 *   - CONNECT: Proxy-Authorization on the CONNECT, inherited by the requests inside the
 *     tunnel, each checked again (a removed agent's open tunnel stops working).
 * Credentials that disagree about the agent are a 407, whichever forms they come in.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { Client, request } from 'undici';
import { pollUntil } from '../../helpers/child.js';
import { newToken, sha256, startGateway, viaProxy, type Gateway } from '../../helpers/gateway.js';
import { openTunnel } from '../connect/helpers.js';

const ALPHA = newToken('alpha');
const BETA = newToken('beta');
const CREDS = { 'openai/alpha': 'sk-ALPHA-forms-SECRET-1', 'openai/beta': 'sk-BETA-forms-SECRET-2' };
const routes = `
egress: { unmatched: deny, block_private_addresses: false }
routes:
  - { name: openai, match: { host: api.openai.com, path: /v1/* }, prefix: /openai, upstream: "\${ECHO}", allow_plaintext: true, credential: "openai/{agent}" }
agents:
`;
const alpha = `  - { name: alpha, token_sha256: ${sha256(ALPHA)}, routes: [openai] }\n`;
const beta = `  - { name: beta, token_sha256: ${sha256(BETA)}, routes: [openai], listen: "127.0.0.1:0" }\n`;

let gw: Gateway;
before(async () => {
  gw = await startGateway({ identities: [], credentials: CREDS, yaml: routes + alpha + beta, tokens: [ALPHA, BETA] });
});
after(() => gw.close());

async function get(url: string): Promise<{ status: number; json: Record<string, unknown> | null; error: string | undefined }> {
  const r = await request(url);
  const text = await r.body.text();
  const json = r.headers['content-type']?.includes('json') ? (JSON.parse(text) as Record<string, unknown>) : null;
  return { status: r.statusCode, json, error: r.headers['x-sanctum-error'] as string | undefined };
}

/** One request on an open tunnel; reads the response by its Content-Length. */
function exchange(socket: Socket, head: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (c: Buffer): void => {
      buf = Buffer.concat([buf, c]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const headers = buf.subarray(0, end).toString('latin1');
      const length = Number(/content-length: (\d+)/i.exec(headers)?.[1] ?? 0);
      if (buf.length < end + 4 + length) return;
      socket.off('data', onData);
      resolve({ status: Number(headers.slice(9, 12)), body: buf.subarray(end + 4, end + 4 + length).toString() });
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.resume();
    socket.write(head);
  });
}

test('a leading /_agent/<token> segment authenticates base-URL requests and is removed', async () => {
  const before = gw.echo.requests.length;
  const r = await get(`${gw.proxyUrl}/_agent/${ALPHA}/openai/v1/models?limit=2`);
  assert.equal(r.status, 200);
  assert.equal(r.json!.url, '/v1/models?limit=2', 'the upstream sees the path without the segment');
  assert.equal((gw.echo.requests.at(-1)!.headers as Record<string, string>).authorization, `Bearer ${CREDS['openai/alpha']}`);
  assert.ok(!JSON.stringify(r.json).includes(ALPHA), 'the token went nowhere upstream');
  assert.equal(gw.echo.requests.length, before + 1);

  assert.equal((await get(`${gw.proxyUrl}/openai/v1/models`)).status, 407, 'without a token');
  assert.equal((await get(`${gw.proxyUrl}/_agent/${newToken('x')}/openai/v1/models`)).status, 407, 'with a wrong token');
  assert.equal((await get(`${gw.proxyUrl}/_agent//openai/v1/models`)).status, 407, 'with an empty segment');
  // Two credentials naming different agents: refused, whichever is right.
  const mixed = await request(`${gw.proxyUrl}/_agent/${ALPHA}/openai/v1/models`, { headers: { 'proxy-authorization': `Bearer ${BETA}` } });
  await mixed.body.dump();
  assert.equal(mixed.statusCode, 407);
  assert.equal(gw.echo.requests.length, before + 1);

  const line = gw.requestLines().find((l) => l.status === 200 && l.form === 'prefix')!;
  assert.equal(line.agent, 'alpha');
  for (const l of gw.logs) assert.ok(!l.includes(ALPHA), 'the path token is never logged');
});

test("a dedicated listener makes every request that agent's, without a token", async () => {
  const own = gw.sidecar.agentListener('beta')!;
  const base = `http://127.0.0.1:${own.port}`;
  const r = await get(`${base}/openai/v1/models`);
  assert.equal(r.status, 200);
  assert.equal((gw.echo.requests.at(-1)!.headers as Record<string, string>).authorization, `Bearer ${CREDS['openai/beta']}`);
  const c = new Client(base);
  try {
    const abs = await viaProxy(c, 'http://api.openai.com/v1/models');
    assert.equal(abs.status, 200, 'absolute-form too');
    assert.equal((gw.echo.requests.at(-1)!.headers as Record<string, string>).authorization, `Bearer ${CREDS['openai/beta']}`);
    const other = await viaProxy(c, 'http://api.openai.com/v1/models', { auth: `Bearer ${ALPHA}` });
    assert.equal(other.status, 407, "another agent's token on beta's listener is a conflict");
  } finally {
    await c.close();
  }
  const line = gw.requestLines().filter((l) => l.agent === 'beta' && l.status === 200);
  assert.ok(line.length >= 2);
  // The main listener still needs a token for beta.
  assert.equal((await get(`${gw.proxyUrl}/openai/v1/models`)).status, 407);
});

test('CONNECT: the agent is identified on the CONNECT and the tunnel inherits it', async () => {
  const refused = await openTunnel(gw.sidecar.proxy.port, 'api.openai.com:80');
  assert.equal(refused.status, 407);
  assert.match(refused.head, /proxy-authenticate: Basic realm="sanctum-sidecar"/i);
  refused.socket.destroy();

  const t = await openTunnel(gw.sidecar.proxy.port, 'api.openai.com:80', `Proxy-Authorization: Bearer ${ALPHA}\r\n`);
  assert.equal(t.status, 200);
  const first = await exchange(t.socket, 'GET /v1/models HTTP/1.1\r\nHost: api.openai.com\r\n\r\n');
  assert.equal(first.status, 200);
  const seen = gw.echo.requests.at(-1)!;
  assert.equal(seen.headers.authorization, `Bearer ${CREDS['openai/alpha']}`);
  assert.equal(seen.headers['proxy-authorization'], undefined);

  const onOwn = await openTunnel(gw.sidecar.agentListener('beta')!.port, 'api.openai.com:80');
  assert.equal(onOwn.status, 200, "beta's dedicated listener needs no token for CONNECT either");
  const b = await exchange(onOwn.socket, 'GET /v1/models HTTP/1.1\r\nHost: api.openai.com\r\n\r\n');
  assert.equal(b.status, 200);
  assert.equal(gw.echo.requests.at(-1)!.headers.authorization, `Bearer ${CREDS['openai/beta']}`);
  onOwn.socket.destroy();

  // The agent is removed while its tunnel is open: the next request inside it is refused.
  await gw.reload(routes + beta);
  const after = await exchange(t.socket, 'GET /v1/models HTTP/1.1\r\nHost: api.openai.com\r\n\r\n');
  assert.equal(after.status, 407);
  t.socket.destroy();
  await gw.reload(routes + alpha + beta);

  const tunnelLines = () => gw.requestLines().filter((l) => l.form === 'connect' && l.status === 200);
  assert.ok(await pollUntil(async () => tunnelLines().length === 2, 3000), 'each tunnel has its canonical line');
  const tunnels = tunnelLines();
  assert.deepEqual(tunnels.map((l) => l.agent).sort(), ['alpha', 'beta']);
  assert.ok(gw.requestLines().some((l) => l.form === 'tunnel-http' && l.agent === 'alpha' && l.status === 200));
});
