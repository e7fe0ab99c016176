/**
 * Egress through a real squid that requires Basic auth, with the proxy credential taken
 * from the vault. Every request form reaches a local TLS upstream through squid:
 * absolute-form, the prefix form, intercepted TLS inside CONNECT (all three through the
 * route's pool, tunnelled with CONNECT and TLS end to end) and a CONNECT byte tunnel to
 * an allow-listed host; plus plain-http passthrough in absolute-form. The upstream name
 * resolves only in squid's hosts file, as behind a corporate proxy.
 *
 * Shows: squid's access log has the CONNECTs (authenticated) and, in the request heads
 * it received, never the route's credential; the upstream receives exactly one
 * credential; the canonical lines say via_proxy; the proxy credential appears nowhere in
 * the sidecar's logs; /readyz is unaffected.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpsRequest } from 'node:https';
import { request } from 'undici';
import { defaultCredentials, PLACEHOLDER, SECRETS, startStack, type Stack } from '../../helpers/stack.js';
import type { Echo } from '../../helpers/echo.js';
import { startSquid, SQUID_MISSING, type Squid } from '../../helpers/squid.js';
import { ConnectAgent, makePki, startTlsEcho, tlsExtra, tunnelLines, waitFor, type Pki } from '../connect/helpers.js';
import { basic, fakeDns, httpsThroughByteTunnel, metricValue } from './helpers.js';

const PROXY_USER = 'corp-agent';
const PROXY_PASS = 'proxy-SECRET-pw-4711';
const NAME = 'api.upstream.test';

let pki: Pki;
let upstream: Echo;
let squid: Squid;
let stack: Stack;
let stackClosed = false;

before(async () => {
  if (SQUID_MISSING) return;
  pki = await makePki();
  upstream = await startTlsEcho(pki, NAME);
  squid = await startSquid({ users: { [PROXY_USER]: PROXY_PASS }, hosts: { [NAME]: '127.0.0.1', 'plain.upstream.test': '127.0.0.1' } });
  stack = await startStack({
    credentials: { ...defaultCredentials(), 'corp/proxy': `${PROXY_USER}:${PROXY_PASS}` },
    extra: tlsExtra(pki),
    // Nothing resolves on the sidecar's side: only squid knows these names.
    resolve: fakeDns({}),
    routes: `
egress:
  unmatched: deny
  allow: ["${NAME}:${upstream.port}", "plain.upstream.test:\${ECHO_PORT}"]
  upstream_proxy: ${squid.url}
  upstream_proxy_credential: corp/proxy
routes:
  - name: openai
    match: { host: api.openai.com, path: /v1/* }
    prefix: /openai
    upstream: https://${NAME}:${upstream.port}
    credential: openai/api-key
    inject: { header_type: bearer }
`,
  });
});

after(async () => {
  if (SQUID_MISSING) return;
  if (!stackClosed) await stack.close();
  await squid.close();
  await upstream.close();
});

function intercepted(agent: ConnectAgent): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: 'api.openai.com', servername: 'api.openai.com', port: 443, path: '/v1/models?form=intercept', agent, headers: { authorization: `Bearer ${PLACEHOLDER}` } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

test('every request form reaches the TLS upstream through squid, with the credential only inside TLS', { skip: SQUID_MISSING }, async () => {
  // absolute-form (HTTP_PROXY style) and the prefix form
  const abs = await request('http://api.openai.com/v1/models?form=absolute', { dispatcher: stack.agent, headers: { authorization: `Bearer ${PLACEHOLDER}` } });
  assert.equal(abs.statusCode, 200, await abs.body.text());
  const pre = await request(`${stack.proxyUrl}/openai/v1/models?form=prefix`, { headers: { 'x-api-key': PLACEHOLDER } });
  assert.equal(pre.statusCode, 200);
  await pre.body.text();
  // intercepted TLS inside CONNECT
  const agent = new ConnectAgent(stack.proxyPort, pki.caPem);
  const int = await intercepted(agent);
  agent.destroy();
  assert.equal(int.status, 200);
  // a byte tunnel to an allow-listed host: the agent's own TLS, end to end, through squid
  const tunnel = await httpsThroughByteTunnel(stack.proxyPort, `${NAME}:${upstream.port}`, NAME, pki, 'X-Agent: own-tls\r\n');
  assert.equal(tunnel.connectStatus, 200, tunnel.connectHead);
  assert.match(tunnel.answer, /^HTTP\/1\.1 200/);
  // plain-http passthrough: absolute-form to squid, no credential
  const plain = await request(`http://plain.upstream.test:${stack.echo.port}/plain`, { dispatcher: stack.agent });
  assert.equal(plain.statusCode, 200);
  await plain.body.text();

  // The upstream: three credential requests with exactly one credential each, one tunnelled request with none.
  await upstream.waitFor(4);
  const forms = upstream.requests.map((r) => r.url).sort();
  assert.deepEqual(forms, ['/through-tunnel', '/v1/models?form=absolute', '/v1/models?form=intercept', '/v1/models?form=prefix']);
  for (const r of upstream.requests) {
    const creds = r.rawHeaders.filter((_, i) => i % 2 === 0 && ['authorization', 'x-api-key', 'proxy-authorization'].includes(r.rawHeaders[i]!.toLowerCase()));
    if (r.url === '/through-tunnel') assert.deepEqual(creds, []);
    else {
      assert.deepEqual(creds.map((c) => c.toLowerCase()), ['authorization']);
      assert.equal(r.headers.authorization, `Bearer ${SECRETS.openai}`);
    }
  }
  assert.equal(stack.echo.requests.length, 1);
  assert.equal(stack.echo.requests[0]!.headers['proxy-authorization'], undefined, 'squid removed its own credential before the upstream');

  // Canonical lines: every exchange says it went through the proxy.
  await waitFor(() => tunnelLines(stack.requestLines(), NAME).length === 1);
  const routed = stack.requestLines().filter((l) => l.route === 'openai' && l.form !== 'connect');
  assert.equal(routed.length, 3);
  assert.ok(routed.every((l) => l.via_proxy === true && l.status === 200), JSON.stringify(routed));
  const [tl] = tunnelLines(stack.requestLines(), NAME);
  assert.equal(tl!.decision, 'tunnel');
  assert.equal(tl!.via_proxy, true);
  const plainLine = stack.requestLines().find((l) => l.host === 'plain.upstream.test');
  assert.equal(plainLine?.outcome, 'passthrough');
  assert.equal(plainLine?.via_proxy, true);

  // Metrics and readiness.
  assert.equal(await metricValue(stack.adminUrl, 'sanctum_sidecar_upstream_proxy_requests_total', '{route="openai",result="ok"}'), 3);
  assert.equal(await metricValue(stack.adminUrl, 'sanctum_sidecar_upstream_proxy_requests_total', '{route="none",result="ok"}'), 2);
  assert.ok((await metricValue(stack.adminUrl, 'sanctum_sidecar_upstream_proxy_connects_total', '{result="ok"}')) >= 2);
  assert.equal((await request(`${stack.adminUrl}/readyz`)).statusCode, 200);

  // Squid logs a tunnel when it ends: close the sidecar (its pools) first.
  await stack.close();
  stackClosed = true;
  // At least the route pool's tunnel and the byte tunnel (squid writes each entry when the tunnel ends).
  await squid.waitForCount((e) => e.method === 'CONNECT', 2);
  await squid.waitForCount((e) => e.method === 'GET', 1);
  const connects = (await squid.entries()).filter((e) => e.method === 'CONNECT');
  for (const c of connects) {
    assert.equal(c.url, `${NAME}:${upstream.port}`);
    assert.equal(c.result, 'TCP_TUNNEL/200');
    assert.ok(c.headers.includes(`Proxy-Authorization: Basic ${basic(`${PROXY_USER}:${PROXY_PASS}`)}`), 'authenticated with the vault credential');
  }
  const gets = (await squid.entries()).filter((e) => e.method === 'GET');
  assert.deepEqual(gets.map((g) => [g.result, g.url]), [['TCP_MISS/200', `http://plain.upstream.test:${stack.echo.port}/plain`]]);
  const log = await squid.accessLog();
  assert.ok(!log.includes(SECRETS.openai), 'squid never saw the route credential');
  assert.ok(!log.includes(PLACEHOLDER), "squid never saw the agent's placeholder either");
  assert.ok(!/\bAuthorization: /.test(log.replaceAll('Proxy-Authorization: ', '')), 'no Authorization header reached squid');

  // The proxy credential is a secret too: never in the sidecar's logs.
  const sidecarLog = stack.logs.join('\n');
  assert.ok(!sidecarLog.includes(PROXY_PASS));
  assert.ok(!sidecarLog.includes(basic(`${PROXY_USER}:${PROXY_PASS}`)));
});
