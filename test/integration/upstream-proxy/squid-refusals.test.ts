/**
 * When the hop to a real squid fails, the agent gets a catalogued 502 that names that
 * hop, and nothing is sent without its credential:
 *   squid refuses the destination (403)         UPSTREAM_PROXY_REFUSED
 *   squid cannot reach the destination (503)     UPSTREAM_PROXY_ERROR, status in the message
 *   squid rejects the proxy credential (407)     UPSTREAM_PROXY_AUTH, after one fresh retry
 *   no proxy credential configured (407)         UPSTREAM_PROXY_AUTH
 *   the vault has no proxy credential            CREDENTIAL_NOT_FOUND, squid never asked
 * and the address gate still applies to what squid would be asked to reach (metadata,
 * private IP literals, names that resolve here to private addresses): 403
 * ADDRESS_BLOCKED, squid never asked.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { request } from 'undici';
import { defaultCredentials, SECRETS, startStack, type Stack } from '../../helpers/stack.js';
import type { Echo } from '../../helpers/echo.js';
import { startSquid, SQUID_MISSING, type Squid } from '../../helpers/squid.js';
import { countingListener, makePki, openTunnel, startTlsEcho, tlsExtra, tunnelLines, waitFor, type Pki } from '../connect/helpers.js';
import { fakeDns, metricValue } from './helpers.js';

let pki: Pki;
let upstream: Echo;
let closed: Awaited<ReturnType<typeof countingListener>>;
let squid: Squid;
let stack: Stack;
/** The vault's audit lines (JSON), to count how often it was asked for the proxy credential. */
const audit: Array<{ path: string | null; operation: string | null }> = [];
const askedFor = (path: string): number => audit.filter((a) => a.path === path && a.operation === 'http_header').length;

before(async () => {
  if (SQUID_MISSING) return;
  pki = await makePki();
  upstream = await startTlsEcho(pki, 'api.upstream.test');
  // A port nothing answers on: squid's dial to it fails (the listener is closed at once).
  closed = await countingListener();
  await closed.close();
  squid = await startSquid({
    users: { 'corp-agent': 'right-pw' },
    hosts: { 'api.upstream.test': '127.0.0.1', 'denied.upstream.test': '127.0.0.1', 'closed.upstream.test': '127.0.0.1' },
    deny: ['denied.upstream.test'],
  });
  stack = await startStack({
    credentials: { ...defaultCredentials(), 'corp/proxy': 'corp-agent:right-pw', 'corp/wrong': 'corp-agent:wrong-pw' },
    extra: tlsExtra(pki),
    resolve: fakeDns({ 'internal.blocked.test': '10.1.2.3' }),
    vaultOptions: {
      auditLog: new Writable({
        write(chunk: Buffer, _enc, cb): void {
          for (const l of chunk.toString('utf8').split('\n')) if (l.trim() !== '') audit.push(JSON.parse(l));
          cb();
        },
      }),
    },
    routes: `
egress:
  unmatched: passthrough
  upstream_proxy: ${squid.url}
  upstream_proxy_credential: corp/proxy
routes:
  - name: ok
    match: { host: ok.example.com }
    upstream: https://api.upstream.test:${upstream.port}
    credential: openai/api-key
  - name: denied
    match: { host: denied.example.com }
    upstream: https://denied.upstream.test:${upstream.port}
    credential: openai/api-key
  - name: closed
    match: { host: closed.example.com }
    upstream: https://closed.upstream.test:${closed.port}
    credential: openai/api-key
`,
  });
});

after(async () => {
  if (SQUID_MISSING) return;
  await stack.close();
  await squid.close();
  await upstream.close();
});

async function get(host: string): Promise<{ status: number; code: string | undefined; body: string }> {
  const r = await request(`http://${host}/v1/x`, { dispatcher: stack.agent });
  return { status: r.statusCode, code: r.headers['x-sanctum-error'] as string | undefined, body: await r.body.text() };
}

/** Swap the proxy credential setting in routes.yaml and reload. */
async function useProxyCredential(line: string): Promise<void> {
  const text = await readFile(stack.configPath, 'utf8');
  await writeFile(stack.configPath, text.replace(/^ {2}(# )?upstream_proxy_credential: .*$/m, line));
  await stack.sidecar.reload();
}

test('the route works through squid (the baseline the refusals below differ from)', { skip: SQUID_MISSING }, async () => {
  const r = await get('ok.example.com');
  assert.equal(r.status, 200, r.body);
  assert.equal(upstream.requests.length, 1);
  assert.equal(upstream.requests[0]!.headers.authorization, `Bearer ${SECRETS.openai}`);
});

test('squid refusing the destination (403) is UPSTREAM_PROXY_REFUSED, for routes and byte tunnels', { skip: SQUID_MISSING }, async () => {
  const r = await get('denied.example.com');
  assert.equal(r.status, 502);
  assert.equal(r.code, 'UPSTREAM_PROXY_REFUSED');
  assert.match(JSON.parse(r.body).error.message, /upstream proxy refused/);
  const t = await openTunnel(stack.proxyPort, `denied.upstream.test:${upstream.port}`);
  t.socket.destroy();
  assert.equal(t.status, 502);
  assert.match(t.head, /x-sanctum-error: UPSTREAM_PROXY_REFUSED/i);
  await squid.waitForCount((e) => e.url === `denied.upstream.test:${upstream.port}`, 2);
  const denied = (await squid.entries()).filter((e) => e.url === `denied.upstream.test:${upstream.port}`);
  assert.equal(denied.length, 2);
  assert.ok(denied.every((e) => e.result === 'TCP_DENIED/403'));
  assert.equal(upstream.requests.length, 1, 'nothing more reached the upstream');
  assert.equal(await metricValue(stack.adminUrl, 'sanctum_sidecar_upstream_proxy_requests_total', '{route="denied",result="proxy_refused"}'), 1);
  await waitFor(() => tunnelLines(stack.requestLines(), 'denied.upstream.test').length === 1);
  const line = tunnelLines(stack.requestLines(), 'denied.upstream.test')[0]!;
  assert.deepEqual([line.status, line.code, line.via_proxy], [502, 'UPSTREAM_PROXY_REFUSED', true]);
  assert.equal(await metricValue(stack.adminUrl, 'sanctum_sidecar_upstream_proxy_requests_total', '{route="none",result="proxy_refused"}'), 1);
});

test('squid unable to reach the destination (5xx) is UPSTREAM_PROXY_ERROR with its status', { skip: SQUID_MISSING }, async () => {
  const r = await get('closed.example.com');
  assert.equal(r.status, 502);
  assert.equal(r.code, 'UPSTREAM_PROXY_ERROR');
  assert.match(JSON.parse(r.body).error.message, /upstream proxy answered 5\d\d/);
  const e = await squid.waitForEntry((x) => x.url === `closed.upstream.test:${closed.port}`);
  assert.match(e.result, /\/5\d\d$/);
});

test('a proxy credential squid rejects (407) is UPSTREAM_PROXY_AUTH after one fresh retry; nothing reaches the upstream', { skip: SQUID_MISSING }, async () => {
  await useProxyCredential('  upstream_proxy_credential: corp/wrong');
  const denied0 = (await squid.entries()).filter((e) => e.result === 'TCP_DENIED/407').length;
  const vault0 = askedFor('corp/wrong');
  const r = await get('ok.example.com');
  assert.equal(r.status, 502);
  assert.equal(r.code, 'UPSTREAM_PROXY_AUTH');
  const is407 = (e: { result: string }): boolean => e.result === 'TCP_DENIED/407';
  await squid.waitForCount(is407, denied0 + 2);
  await new Promise((r) => setTimeout(r, 200));
  const denied = (await squid.entries()).filter(is407);
  assert.equal(denied.length - denied0, 2, 'the first 407 drops the kept credential; one fresh attempt, then the error');
  assert.equal(askedFor('corp/wrong') - vault0, 2, 'the retry asked the vault again');
  assert.equal(upstream.requests.length, 1);
  assert.equal(await metricValue(stack.adminUrl, 'sanctum_sidecar_upstream_proxy_connects_total', '{result="auth_required"}'), 2);
  assert.equal(await metricValue(stack.adminUrl, 'sanctum_sidecar_upstream_proxy_requests_total', '{route="ok",result="proxy_auth"}'), 1);
  assert.equal((await request(`${stack.adminUrl}/readyz`)).statusCode, 200, 'readiness does not depend on the proxy');
});

test('without a proxy credential configured, squid asking for one is UPSTREAM_PROXY_AUTH', { skip: SQUID_MISSING }, async () => {
  await useProxyCredential('  # upstream_proxy_credential: none');
  const denied0 = (await squid.entries()).filter((e) => e.result === 'TCP_DENIED/407').length;
  const r = await get('ok.example.com');
  assert.equal(r.status, 502);
  assert.equal(r.code, 'UPSTREAM_PROXY_AUTH');
  await squid.waitForCount((e) => e.result === 'TCP_DENIED/407', denied0 + 1);
  await new Promise((r) => setTimeout(r, 200));
  const denied = (await squid.entries()).filter((e) => e.result === 'TCP_DENIED/407');
  assert.equal(denied.length - denied0, 1, 'no credential to refresh: no retry');
  assert.ok(!denied.at(-1)!.headers.includes('Proxy-Authorization'));
  assert.equal(upstream.requests.length, 1);
});

test('a proxy credential missing from the vault fails closed (CREDENTIAL_NOT_FOUND) before squid is asked', { skip: SQUID_MISSING }, async () => {
  await useProxyCredential('  upstream_proxy_credential: corp/absent');
  const before = (await squid.accessLog()).length;
  const r = await get('ok.example.com');
  assert.equal(r.status, 502);
  assert.equal(r.code, 'CREDENTIAL_NOT_FOUND');
  const t = await openTunnel(stack.proxyPort, `api.upstream.test:${upstream.port}`);
  t.socket.destroy();
  assert.equal(t.status, 502);
  assert.match(t.head, /x-sanctum-error: CREDENTIAL_NOT_FOUND/i);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal((await squid.accessLog()).length, before, 'squid received nothing');
  assert.equal(upstream.requests.length, 1);
  await useProxyCredential('  upstream_proxy_credential: corp/proxy');
});

test('the address gate still refuses what squid would be asked to reach: metadata, private literals, names resolving here to private', { skip: SQUID_MISSING }, async () => {
  const before = (await squid.accessLog()).length;
  for (const authority of ['169.254.169.254:443', '10.0.0.5:443', 'internal.blocked.test:443']) {
    const t = await openTunnel(stack.proxyPort, authority);
    t.socket.destroy();
    assert.equal(t.status, 403, authority);
    assert.match(t.head, /x-sanctum-error: ADDRESS_BLOCKED/i, authority);
  }
  for (const url of ['http://169.254.169.254/latest/meta-data/', 'http://10.0.0.5/', 'http://internal.blocked.test/']) {
    const r = await request(url, { dispatcher: stack.agent });
    await r.body.text();
    assert.equal(r.statusCode, 403, url);
    assert.equal(r.headers['x-sanctum-error'], 'ADDRESS_BLOCKED', url);
  }
  await new Promise((r) => setTimeout(r, 200));
  assert.equal((await squid.accessLog()).length, before, 'squid was never asked');
  assert.equal(await metricValue(stack.adminUrl, 'sanctum_sidecar_upstream_proxy_requests_total', '{route="none",result="address_blocked"}'), 6);
});
