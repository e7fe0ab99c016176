/**
 * `no_proxy` bypasses squid (a CIDR for an IP upstream, a name for a byte tunnel), and
 * with squid down every proxied form fails with UPSTREAM_PROXY_UNREACHABLE while the
 * bypassed ones keep working and /readyz stays ready (the proxy is per request).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { SECRETS, startStack, type Stack } from '../../helpers/stack.js';
import type { Echo } from '../../helpers/echo.js';
import { startSquid, SQUID_MISSING, type Squid } from '../../helpers/squid.js';
import { makePki, openTunnel, startTlsEcho, tlsExtra, tunnelLines, waitFor, type Pki } from '../connect/helpers.js';
import { fakeDns, httpsThroughByteTunnel, metricValue } from './helpers.js';

let pki: Pki;
let local: Echo;
let remote: Echo;
let squid: Squid;
let stack: Stack;

before(async () => {
  if (SQUID_MISSING) return;
  pki = await makePki();
  local = await startTlsEcho(pki, '127.0.0.1');
  remote = await startTlsEcho(pki, 'api.upstream.test');
  squid = await startSquid({ hosts: { 'api.upstream.test': '127.0.0.1', 'plain.upstream.test': '127.0.0.1' } });
  stack = await startStack({
    extra: tlsExtra(pki, false),
    resolve: fakeDns({ 'direct.example.test': '127.0.0.1' }),
    routes: `
egress:
  unmatched: deny
  allow: ["direct.example.test:${local.port}", "api.upstream.test:${remote.port}", "plain.upstream.test:\${ECHO_PORT}"]
  upstream_proxy: ${squid.url}
  no_proxy: [127.0.0.0/8, direct.example.test]
routes:
  - name: local
    match: { host: local.example.com }
    upstream: https://127.0.0.1:${local.port}
    credential: openai/api-key
  - name: remote
    match: { host: remote.example.com }
    upstream: https://api.upstream.test:${remote.port}
    credential: openai/api-key
`,
  });
});

after(async () => {
  if (SQUID_MISSING) return;
  await stack.close();
  await squid.close();
  await local.close();
  await remote.close();
});

async function get(host: string): Promise<{ status: number; code: string | undefined }> {
  const r = await request(`http://${host}/v1/x`, { dispatcher: stack.agent });
  await r.body.text();
  return { status: r.statusCode, code: r.headers['x-sanctum-error'] as string | undefined };
}

test('no_proxy: a CIDR-listed upstream and a name-listed tunnel go direct; the rest goes through squid', { skip: SQUID_MISSING }, async () => {
  assert.equal((await get('local.example.com')).status, 200);
  assert.equal((await get('remote.example.com')).status, 200);
  const t = await httpsThroughByteTunnel(stack.proxyPort, `direct.example.test:${local.port}`, '127.0.0.1', pki);
  assert.equal(t.connectStatus, 200);
  assert.match(t.answer, /^HTTP\/1\.1 200/);
  assert.equal(local.requests.length, 2);
  assert.equal(local.requests[0]!.headers.authorization, `Bearer ${SECRETS.openai}`);
  assert.equal(remote.requests.length, 1);

  const lines = stack.requestLines();
  assert.equal(lines.find((l) => l.route === 'local')?.via_proxy, false);
  assert.equal(lines.find((l) => l.route === 'remote')?.via_proxy, true);
  await waitFor(() => tunnelLines(stack.requestLines(), 'direct.example.test').length === 1);
  assert.equal(tunnelLines(stack.requestLines(), 'direct.example.test')[0]!.via_proxy, false);
});

test('squid down (its log then shows only the proxied upstream): proxied requests, tunnels and passthrough fail with UPSTREAM_PROXY_UNREACHABLE; bypassed ones work; /readyz ready', { skip: SQUID_MISSING }, async () => {
  await squid.stop();
  // Squid logs a tunnel when it ends (here: when it stopped). It only ever saw the proxied upstream.
  const entries = await squid.entries();
  assert.deepEqual(entries.map((e) => [e.method, e.url]), [['CONNECT', `api.upstream.test:${remote.port}`]]);
  const unreachable0 = await metricValue(stack.adminUrl, 'sanctum_sidecar_upstream_proxy_connects_total', '{result="unreachable"}');
  // The pooled tunnel squid held died with it; the next request dials squid afresh.
  let r = await get('remote.example.com');
  for (let i = 0; i < 3 && r.code === 'UPSTREAM_ERROR'; i++) r = await get('remote.example.com');
  assert.equal(r.status, 502);
  assert.equal(r.code, 'UPSTREAM_PROXY_UNREACHABLE');
  const t = await openTunnel(stack.proxyPort, `api.upstream.test:${remote.port}`);
  t.socket.destroy();
  assert.equal(t.status, 502);
  assert.match(t.head, /x-sanctum-error: UPSTREAM_PROXY_UNREACHABLE/i);
  const plain = await request(`http://plain.upstream.test:${stack.echo.port}/`, { dispatcher: stack.agent });
  await plain.body.text();
  assert.equal(plain.statusCode, 502);
  assert.equal(plain.headers['x-sanctum-error'], 'UPSTREAM_PROXY_UNREACHABLE');
  assert.equal(remote.requests.length, 1, 'nothing more reached the proxied upstream');
  assert.equal(stack.echo.requests.length, 0);

  assert.equal((await get('local.example.com')).status, 200, 'no_proxy destinations do not need the proxy');
  assert.equal((await request(`${stack.adminUrl}/readyz`)).statusCode, 200);
  assert.ok((await metricValue(stack.adminUrl, 'sanctum_sidecar_upstream_proxy_connects_total', '{result="unreachable"}')) >= unreachable0 + 2);
  assert.equal(await metricValue(stack.adminUrl, 'sanctum_sidecar_upstream_proxy_requests_total', '{route="remote",result="proxy_unreachable"}'), 1);
});
