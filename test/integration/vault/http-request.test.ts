// The dev vault's http_request: credential injected by the vault, no redirects followed, internal
// addresses refused (loopback only when allowed), caller's credential headers and framing dropped.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { VaultSsrfBlockedError, VaultUnknownError } from '../../../src/vault/errors.js';
import type { VaultClient, HttpRequestSpec } from '../../../src/vault/client.js';
import { startTestVault, type TestVault } from '../../helpers/devvault.js';
import { caught, makeClient, startUpstream } from './support.js';

let tv: TestVault;
let client: VaultClient;
let upstream: Awaited<ReturnType<typeof startUpstream>>;

before(async () => {
  upstream = await startUpstream((req, res, body) => {
    if (req.url === '/redirect') {
      res.writeHead(302, { location: 'http://169.254.169.254/steal' });
      return res.end('moved');
    }
    if (req.url === '/big') {
      res.writeHead(200);
      return res.end('x'.repeat(3 * 1024 * 1024 + 1));
    }
    res.writeHead(201, { 'content-type': 'application/json', 'set-cookie': ['a=1', 'b=2'] });
    res.end(JSON.stringify({ got: body }));
  });
  tv = await startTestVault({ credentials: { api: 'sk-upstream-secret' }, allowLoopback: true });
  ({ client } = makeClient(tv.endpoint, { seed: tv.seed, agent: tv.agent, callTimeoutMs: 10_000 }));
  client.start();
  await client.whenReady(5000);
});
after(async () => {
  await client.close();
  await tv.close();
  await upstream.close();
});

const req = (over: Partial<HttpRequestSpec>): HttpRequestSpec => ({ method: 'GET', url: `${upstream.origin}/`, headers: {}, body: '', headerType: 'bearer', ...over });

test('custom header injection, multi-value response headers, JSON body as text', async () => {
  const r = await client.useHttpRequest('api', req({ method: 'PUT', url: `${upstream.origin}/x`, body: '{"a":1}', headerType: 'custom', headerName: 'X-Token' }));
  assert.equal(r.status, 201);
  assert.deepEqual(r.headers['set-cookie'], ['a=1', 'b=2']);
  assert.deepEqual(JSON.parse(r.body), { got: '{"a":1}' });
  const seen = upstream.seen.at(-1)!;
  assert.equal(seen.headers['x-token'], 'sk-upstream-secret');
  assert.equal(seen.headers.authorization, undefined);
});

test('the caller\'s credential and framing headers never reach the upstream', async () => {
  await client.useHttpRequest(
    'api',
    req({
      method: 'POST',
      body: 'b',
      headers: { 'X-Api-Key': 'agent-placeholder', Authorization: 'Bearer agent', Cookie: 'c=1', Host: 'evil.example', 'Content-Length': '999', Connection: 'close', 'x-keep': 'k' },
      headerType: 'api_key',
    }),
  );
  const h = upstream.seen.at(-1)!.headers;
  assert.equal(h['x-api-key'], 'sk-upstream-secret');
  assert.equal(h.authorization, undefined);
  assert.equal(h.cookie, undefined);
  assert.equal(h.host, `127.0.0.1:${upstream.port}`);
  assert.equal(h['content-length'], '1');
  assert.equal(h['x-keep'], 'k');
});

test('redirects are returned, never followed', async () => {
  const before = upstream.seen.length;
  const r = await client.useHttpRequest('api', req({ url: `${upstream.origin}/redirect` }));
  assert.equal(r.status, 302);
  assert.equal(r.headers.location, 'http://169.254.169.254/steal');
  assert.equal(upstream.seen.length, before + 1);
});

test('allow_loopback opens loopback (by IP or name) and nothing else internal', async () => {
  assert.equal((await client.useHttpRequest('api', req({ url: `http://localhost:${upstream.port}/` }))).status, 201);
  for (const url of ['http://10.1.2.3/', 'http://192.168.0.1/', 'http://169.254.169.254/', 'http://[fd00::1]/', 'http://[::ffff:10.0.0.1]/', 'http://0.0.0.0/', 'http://100.64.0.1/']) {
    const e = await caught(client.useHttpRequest('api', req({ url })));
    assert.ok(e instanceof VaultSsrfBlockedError, `${url}: ${String(e)}`);
  }
});

test('bad requests and unreachable upstreams are clear errors', async () => {
  const cases: [Partial<HttpRequestSpec>, string][] = [
    [{ url: '/relative' }, 'INVALID_PARAMS'],
    [{ url: 'ftp://127.0.0.1/' }, 'INVALID_PARAMS'],
    [{ url: `http://user:pw@127.0.0.1:${upstream.port}/` }, 'INVALID_PARAMS'],
    [{ method: 'GE T' }, 'INVALID_PARAMS'],
    [{ url: 'http://127.0.0.1:1/' }, 'UPSTREAM_ERROR'],
    [{ url: 'http://no-such-host.invalid/' }, 'UPSTREAM_ERROR'],
  ];
  for (const [over, code] of cases) {
    const e = await caught(client.useHttpRequest('api', req(over)));
    assert.ok(e instanceof VaultUnknownError, `${JSON.stringify(over)}: ${String(e)}`);
    assert.equal(e.code, code, JSON.stringify(over));
    assert.ok(!e.message.includes('sk-upstream-secret'));
  }
});

test('an answer too large for one frame is refused', async () => {
  const e = await caught(client.useHttpRequest('api', req({ url: `${upstream.origin}/big` })));
  assert.equal((e as VaultUnknownError).code, 'RESPONSE_TOO_LARGE');
});
