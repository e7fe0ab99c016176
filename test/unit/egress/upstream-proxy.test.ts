// The upstream proxy at run time: which proxy a destination uses, the Proxy-Authorization
// from the vault (single-flight, kept, dropped and asked again on 407), from an env
// variable or from HTTPS_PROXY's user:pass, the loop guard, and the address gate in
// front of the proxy (names that do not resolve here pass; names and literals that
// resolve to blocked addresses do not).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Server } from 'node:net';
import type { ProxyEndpoint, UpstreamProxySettings } from '../../../src/config/types.js';
import type { CredentialSource } from '../../../src/credentials/resolver.js';
import { Secret } from '../../../src/credentials/secret.js';
import { SidecarError } from '../../../src/errors.js';
import { UpstreamProxy, UpstreamProxies } from '../../../src/egress/upstream-proxy.js';
import { gateViaProxy } from '../../../src/egress/via-proxy.js';
import { parseNoProxyEntry } from '../../../src/routing/no-proxy.js';
import { VaultError } from '../../../src/vault/errors.js';

const servers: Server[] = [];
after(() => Promise.all(servers.map((s) => new Promise((r) => s.close(r)))));

function settings(https: ProxyEndpoint | undefined, http: ProxyEndpoint | undefined, noProxy: string[] = []): UpstreamProxySettings {
  const np = noProxy.map(parseNoProxyEntry);
  return { setting: 'x', settingFrom: 'egress.upstream_proxy', configuredNoProxy: np, configuredCredential: undefined, https, http, noProxy: np };
}

const ep = (port: number, credential?: ProxyEndpoint['credential']): ProxyEndpoint => ({ host: '127.0.0.1', port, from: 'egress.upstream_proxy', credential });

/** A vault stand-in that counts calls and answers after a tick. */
function fakeVault(answer: () => string | Error): CredentialSource & { calls: number } {
  const v = {
    calls: 0,
    async useHttpHeader(path: string, spec: { headerType: string }) {
      v.calls += 1;
      assert.equal(path, 'corp/proxy');
      assert.equal(spec.headerType, 'basic');
      await new Promise((r) => setTimeout(r, 5));
      const a = answer();
      if (a instanceof Error) throw a;
      return { headerName: 'Authorization', headerValue: new Secret(a) };
    },
  };
  return v;
}

const deps = (vault: CredentialSource, env: NodeJS.ProcessEnv = {}, results: string[] = []) => ({
  vault: () => vault,
  env,
  ownEndpoints: () => [{ host: '127.0.0.1', port: 1 }],
  onConnect: (r: string) => results.push(r),
});

test('which proxy: https upstreams and tunnels use the https one, plain http the http one; no_proxy goes direct', () => {
  const p = new UpstreamProxy(settings(ep(1000), ep(2000), ['.internal.corp', '10.0.0.0/8']), deps(fakeVault(() => '')));
  assert.equal(p.endpointFor('https', 'api.test', 443)?.port, 1000);
  assert.equal(p.endpointFor('tunnel', 'api.test', 22)?.port, 1000);
  assert.equal(p.endpointFor('http', 'api.test', 80)?.port, 2000);
  assert.equal(p.endpointFor('https', 'db.internal.corp', 443), undefined);
  assert.equal(p.endpointFor('http', '10.1.2.3', 80), undefined);
  const httpsOnly = new UpstreamProxy(settings(ep(1000), undefined), deps(fakeVault(() => '')));
  assert.equal(httpsOnly.endpointFor('http', 'api.test', 80), undefined, 'env mode without HTTP_PROXY: plain http goes direct');
});

test('the vault credential: one call for concurrent tunnels, kept, asked again after forget()', async () => {
  const vault = fakeVault(() => 'Basic dXNlcjpwdw==');
  const e = ep(1000, { kind: 'vault', path: 'corp/proxy' });
  const p = new UpstreamProxy(settings(e, e), deps(vault));
  const got = await Promise.all([p.authorization(e), p.authorization(e), p.authorization(e)]);
  assert.equal(vault.calls, 1);
  assert.ok(got.every((s) => s?.reveal() === 'Basic dXNlcjpwdw=='));
  assert.equal(String(got[0]), '[REDACTED]');
  await p.authorization(e);
  assert.equal(vault.calls, 1);
  p.forget(e);
  await p.authorization(e);
  assert.equal(vault.calls, 2);
});

test('a vault failure is the catalogued vault error (fail closed), never a request without the credential', async () => {
  const e = ep(1000, { kind: 'vault', path: 'corp/proxy' });
  const p = new UpstreamProxy(settings(e, e), deps(fakeVault(() => new VaultError('VAULT_UNAVAILABLE'))));
  await assert.rejects(p.authorization(e), (err: unknown) => err instanceof SidecarError && err.code === 'VAULT_UNAVAILABLE' && err.status === 503);
});

test('env credentials: user:pass in a variable, or the percent-decoded user:pass of HTTPS_PROXY', async () => {
  const env = { PROXY_CRED: 'svc:pa:ss', HTTPS_PROXY: 'http://bob%40corp:p%3Ass@proxy.corp:3128' };
  const p = new UpstreamProxy(settings(undefined, undefined), deps(fakeVault(() => ''), env));
  const a = await p.authorization(ep(1, { kind: 'env', variable: 'PROXY_CRED' }));
  assert.equal(a?.reveal(), `Basic ${Buffer.from('svc:pa:ss').toString('base64')}`);
  const b = await p.authorization(ep(1, { kind: 'proxy_url', variable: 'HTTPS_PROXY' }));
  assert.equal(b?.reveal(), `Basic ${Buffer.from('bob@corp:p:ss').toString('base64')}`);
  assert.equal(await p.authorization(ep(1)), undefined);
});

test('a 407 drops the kept credential and tries once more with a fresh one', async () => {
  let n = 0;
  const heads: string[] = [];
  const server = createServer((s) => {
    s.on('error', () => undefined);
    s.once('data', (c: Buffer) => {
      heads.push(c.toString('latin1'));
      s.write(n++ === 0 ? 'HTTP/1.1 407 Proxy Authentication Required\r\n\r\n' : 'HTTP/1.1 200 OK\r\n\r\n');
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const passwords = ['Basic b2xk', 'Basic bmV3'];
  const vault = fakeVault(() => passwords.shift()!);
  const results: string[] = [];
  const e = ep(port, { kind: 'vault', path: 'corp/proxy' });
  const p = new UpstreamProxy(settings(e, e), deps(vault, {}, results));
  const socket = await p.tunnel(e, 'api.test', 443, 2000);
  socket.destroy();
  assert.equal(vault.calls, 2);
  assert.deepEqual(results, ['auth_required', 'ok']);
  assert.match(heads[0]!, /Proxy-Authorization: Basic b2xk\r\n/);
  assert.match(heads[1]!, /Proxy-Authorization: Basic bmV3\r\n/);
});

test('a proxy configured as the sidecar itself is refused before anything is dialled', async () => {
  const e = ep(1);
  const p = new UpstreamProxy(settings(e, e), deps(fakeVault(() => '')));
  await assert.rejects(p.tunnel(e, 'api.test', 443, 500), (err: unknown) => err instanceof SidecarError && err.code === 'UPSTREAM_PROXY_ERROR' && /own listener/.test(err.message));
});

test('UpstreamProxies keeps one instance (and its kept credential) while the settings stay the same', () => {
  const ps = new UpstreamProxies(deps(fakeVault(() => '')));
  const a = ps.current(settings(ep(1000), ep(1000)));
  assert.equal(ps.current(settings(ep(1000), ep(1000))), a);
  assert.notEqual(ps.current(settings(ep(1001), ep(1000))), a);
  assert.equal(ps.current(undefined), null);
  assert.equal(ps.current(settings(undefined, undefined)), null);
});

test('the gate in front of the proxy: unresolvable names pass, blocked addresses do not', async () => {
  const table: Record<string, string> = { 'public.test': '93.184.215.14', 'private.test': '10.1.2.3', 'mirror.test': '10.9.9.9' };
  const gate = {
    blockPrivate: true,
    ownEndpoints: () => [],
    exemptHosts: new Set(['mirror.test']),
    resolve: async (h: string) => {
      const a = table[h];
      if (a === undefined) throw Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' });
      return [{ address: a, family: 4 }];
    },
  };
  assert.equal(await gateViaProxy('only-the-proxy-knows.corp', 443, gate), 'unresolved');
  assert.equal(await gateViaProxy('public.test', 443, gate), 'checked');
  assert.equal(await gateViaProxy('mirror.test', 443, gate), 'checked', 'an exact allow-listed host keeps its exemption');
  for (const host of ['private.test', '10.0.0.1', '169.254.169.254', '127.0.0.1']) {
    await assert.rejects(gateViaProxy(host, 443, gate), (err: unknown) => err instanceof SidecarError && err.code === 'ADDRESS_BLOCKED', host);
  }
  const slow = { ...gate, resolveTimeoutMs: 50, resolve: () => new Promise<never>(() => undefined) };
  assert.equal(await gateViaProxy('slow.test', 443, slow), 'unresolved', 'no answer in time counts as not resolvable here');
});
