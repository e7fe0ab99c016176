/**
 * Plain HTTP inside CONNECT: undici's EnvHttpProxyAgent tunnels even http:// URLs
 * (`CONNECT host:80`), and the tunnel's requests go through the same pipeline, so the
 * credential is injected. Inside a tunnel the Host must agree with the CONNECT target
 * and a second CONNECT is refused.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { EnvHttpProxyAgent, request } from 'undici';
import { startStack, SECRETS, PLACEHOLDER, type Stack } from '../../helpers/stack.js';
import type { Echo } from '../../helpers/echo.js';
import { connectRoutes, makePki, openTunnel, readAll, startTlsEcho, tlsExtra, tunnelLines, waitFor } from './helpers.js';

let upstream: Echo;
let stack: Stack;

before(async () => {
  const pki = await makePki();
  upstream = await startTlsEcho(pki);
  stack = await startStack({ routes: connectRoutes({ tlsEchoPort: upstream.port }), extra: tlsExtra(pki, false) });
});
after(async () => {
  await stack.close();
  await upstream.close();
});

test('undici EnvHttpProxyAgent (tunnelling by default) to an http:// route gets the credential', async () => {
  const agent = new EnvHttpProxyAgent({ httpProxy: stack.proxyUrl, httpsProxy: stack.proxyUrl, noProxy: '' });
  try {
    const before = stack.echo.requests.length;
    const r = await request('http://api.github.com/repos/x/y?page=2', {
      dispatcher: agent,
      headers: { authorization: `token ${PLACEHOLDER}` },
    });
    const body = (await r.body.json()) as { url: string; headers: Record<string, string> };
    assert.equal(r.statusCode, 200);
    assert.equal(body.url, '/repos/x/y?page=2');
    assert.equal(stack.echo.requests.at(-1)!.headers.authorization, `Bearer ${SECRETS.github}`);
    assert.ok(!JSON.stringify(body).includes(PLACEHOLDER));
    assert.equal(stack.echo.requests.length, before + 1);
  } finally {
    await agent.close();
  }
  await waitFor(() => tunnelLines(stack.requestLines(), 'api.github.com').length >= 1);
  const line = tunnelLines(stack.requestLines(), 'api.github.com')[0]!;
  assert.equal(line.decision, 'plain_http');
  assert.equal(line.port, 80);
  assert.ok(stack.requestLines().some((l) => l.form === 'tunnel-http' && l.route === 'github' && l.status === 200));
});

test('bytes sent with the CONNECT (before the 200) are parsed as the first request', async () => {
  const t = await new Promise<string>((resolve, reject) => {
    const s = connect(stack.proxyPort, '127.0.0.1', () => {
      s.write('CONNECT api.github.com:80 HTTP/1.1\r\nHost: api.github.com:80\r\n\r\nGET /early HTTP/1.1\r\nHost: api.github.com\r\nConnection: close\r\n\r\n');
    });
    s.on('error', reject);
    readAll(s).then(resolve, reject);
  });
  assert.match(t, /^HTTP\/1\.1 200 Connection Established\r\n\r\nHTTP\/1\.1 200 OK/);
  assert.match(t, /"url":"\/early"/);
  assert.equal(stack.echo.requests.at(-1)!.headers.authorization, `Bearer ${SECRETS.github}`);
  assert.equal(t.includes(SECRETS.github), false, 'the echoed copy is masked by the response guard');
});

test('an inner Host that disagrees with the CONNECT target gets 400 and nothing upstream', async () => {
  const before = stack.echo.requests.length;
  const t = await openTunnel(stack.proxyPort, 'api.github.com:80');
  assert.equal(t.status, 200);
  t.socket.write('GET /x HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n');
  const answer = await readAll(t.socket);
  assert.match(answer, /^HTTP\/1\.1 400 /);
  assert.match(answer, /x-sanctum-error: HOST_MISMATCH/i);
  assert.equal(stack.echo.requests.length, before);
});

test('a CONNECT inside a tunnel is refused', async () => {
  const t = await openTunnel(stack.proxyPort, 'api.github.com:80');
  assert.equal(t.status, 200);
  t.socket.write('CONNECT 169.254.169.254:80 HTTP/1.1\r\nHost: 169.254.169.254:80\r\n\r\n');
  const answer = await readAll(t.socket);
  assert.match(answer, /^HTTP\/1\.1 400 /);
  assert.match(answer, /CONNECT inside a tunnel/);
});

test('without a CA, TLS to a credential route is refused with 403 INTERCEPT_DISABLED and how to enable it', async () => {
  const t = await openTunnel(stack.proxyPort, 'api.openai.com:443');
  const answer = t.head + (await readAll(t.socket));
  assert.equal(t.status, 403);
  assert.match(answer, /x-sanctum-error: INTERCEPT_DISABLED/i);
  assert.match(answer, /ca init/);
  await waitFor(() => tunnelLines(stack.requestLines(), 'api.openai.com').length === 1);
  const line = tunnelLines(stack.requestLines(), 'api.openai.com')[0]!;
  assert.equal(line.decision, 'refused');
  assert.equal(line.reason, 'intercept_disabled');
});
