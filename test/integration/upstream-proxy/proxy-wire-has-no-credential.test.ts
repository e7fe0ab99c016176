/**
 * Every byte the upstream proxy receives, recorded by a capture proxy that relays
 * CONNECT: for https upstreams it is the CONNECT head (authority and our
 * Proxy-Authorization, from an environment variable here) followed by TLS records,
 * and never the route's credential or the agent's placeholder, whatever form the
 * agent used. A plain-http credential route allowed through the proxy
 * (`allow_plaintext_via_proxy: true`) is the one case where the proxy reads the
 * credential: that is why it needs the explicit opt-in.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { PLACEHOLDER, SECRETS, startStack, type Stack } from '../../helpers/stack.js';
import type { Echo } from '../../helpers/echo.js';
import { startCaptureProxy, type CaptureProxy } from '../../helpers/capture-proxy.js';
import { makePki, startTlsEcho, tlsExtra, type Pki } from '../connect/helpers.js';
import { basic, fakeDns, httpsThroughByteTunnel } from './helpers.js';

const NAME = 'api.upstream.test';
const PROXY_CRED = 'svc-egress:env-SECRET-proxy-pw';

let pki: Pki;
let upstream: Echo;
let capture: CaptureProxy;
let stack: Stack;

before(async () => {
  pki = await makePki();
  upstream = await startTlsEcho(pki, NAME);
  capture = await startCaptureProxy({ [NAME]: '127.0.0.1' });
  stack = await startStack({
    extra: tlsExtra(pki),
    env: { CORP_PROXY_CREDENTIAL: PROXY_CRED },
    resolve: fakeDns({}),
    routes: `
egress:
  allow: ["${NAME}:${upstream.port}"]
  upstream_proxy: ${capture.url}
  upstream_proxy_credential_env: CORP_PROXY_CREDENTIAL
routes:
  - name: openai
    match: { host: api.openai.com, path: /v1/* }
    prefix: /openai
    upstream: https://${NAME}:${upstream.port}
    credential: openai/api-key
  - name: github
    match: { host: api.github.com }
    upstream: \${ECHO}
    credential: github/token
    allow_plaintext: true
    allow_plaintext_via_proxy: true
`,
  });
});

after(async () => {
  await stack.close();
  await capture.close();
  await upstream.close();
});

test('before any request, the proxy counters are exported at 0 for every route and result the proxy can serve', async () => {
  const P = 'sanctum_sidecar_upstream_proxy_';
  const text = await (await request(`${stack.adminUrl}/metrics`)).body.text();
  // openai (https) and github (plain http, opted in) go through the proxy; none: the allow-listed tunnels.
  for (const route of ['openai', 'github', 'none']) {
    for (const result of ['ok', 'proxy_auth', 'proxy_refused', 'proxy_error', 'proxy_unreachable', 'address_blocked', 'upstream_error', 'error']) {
      assert.ok(text.includes(`\n${P}requests_total{route="${route}",result="${result}"} 0\n`), `${route}/${result} declared at 0`);
    }
  }
  for (const result of ['ok', 'auth_required', 'refused', 'error', 'unreachable']) {
    assert.ok(text.includes(`\n${P}connects_total{result="${result}"} 0\n`), `connects ${result} declared at 0`);
  }
});

test('for https upstreams the proxy receives CONNECT heads and TLS records only', async () => {
  const headers = { authorization: `Bearer ${PLACEHOLDER}` };
  const abs = await request('http://api.openai.com/v1/models', { dispatcher: stack.agent, headers });
  assert.equal(abs.statusCode, 200, await abs.body.text());
  const pre = await request(`${stack.proxyUrl}/openai/v1/models`, { headers });
  assert.equal(pre.statusCode, 200);
  await pre.body.text();
  const t = await httpsThroughByteTunnel(stack.proxyPort, `${NAME}:${upstream.port}`, NAME, pki, `Authorization: Bearer ${PLACEHOLDER}\r\n`);
  assert.equal(t.connectStatus, 200);
  assert.equal(upstream.requests.length, 3);
  assert.equal(upstream.requests[0]!.headers.authorization, `Bearer ${SECRETS.openai}`);

  const tunnels = capture.connections.filter((c) => c.head.startsWith('CONNECT '));
  assert.ok(tunnels.length >= 2);
  for (const c of tunnels) {
    // Exactly this head, then a TLS handshake record: nothing else in clear.
    const head = `CONNECT ${NAME}:${upstream.port} HTTP/1.1\r\nHost: ${NAME}:${upstream.port}\r\nProxy-Authorization: Basic ${basic(PROXY_CRED)}\r\n\r\n`;
    assert.equal(c.head, head);
    assert.equal(c.bytes[head.length], 0x16, 'the bytes after the head are TLS');
    const text = c.bytes.toString('latin1');
    assert.ok(!text.includes(SECRETS.openai));
    assert.ok(!text.includes(PLACEHOLDER));
    assert.equal(text.toLowerCase().split('authorization').length - 1, 1, 'the only authorization on the wire is our Proxy-Authorization');
  }
  assert.ok(!capture.wireText().includes(SECRETS.openai));
  assert.ok(!stack.logs.join('\n').includes('env-SECRET-proxy-pw'), 'the proxy credential is never logged');
});

test('a plain-http credential route allowed through the proxy shows the proxy the credential (hence the opt-in)', async () => {
  const r = await request('http://api.github.com/user', { dispatcher: stack.agent });
  assert.equal(r.statusCode, 200);
  await r.body.text();
  const c = capture.connections.find((x) => x.head.startsWith('GET http://'));
  assert.ok(c !== undefined);
  assert.match(c.head, new RegExp(`^GET ${stack.echo.origin}/user HTTP/1\\.1\\r\\n`));
  assert.ok(c.head.includes(`authorization: Bearer ${SECRETS.github}`));
  assert.ok(c.head.includes(`proxy-authorization: Basic ${basic(PROXY_CRED)}`));
  assert.equal(stack.echo.requests[0]!.headers.authorization, `Bearer ${SECRETS.github}`);
  assert.equal(stack.requestLines().find((l) => l.route === 'github')?.via_proxy, true);
});
