// egress.upstream_proxy, no_proxy and the proxy credential: conversion, located refusals
// with their hints, `env` (read only when asked for), the plaintext opt-in, and the
// SANCTUM_SIDECAR_UPSTREAM_PROXY override under the same rules. Messages never show an
// environment value (proxy URLs there carry passwords).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../../src/config/load.js';
import { applyOverrides } from '../../../src/config/overrides.js';
import { ConfigError } from '../../../src/errors.js';
import type { Config } from '../../../src/config/types.js';

const HEAD = 'version: 1\nvault: { agent: a, socket: /run/v.sock, key_file: /k/a.key }\n';

function load(egress: string, routes = '', env: NodeJS.ProcessEnv = {}): Config {
  return parseConfig(`${HEAD}egress:\n${egress}\n${routes}`, 't.yaml', env);
}

function issues(egress: string, routes = '', env: NodeJS.ProcessEnv = {}): string[] {
  try {
    load(egress, routes, env);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map((i) => `${i.line}:${i.path}: ${i.message}`);
    throw err;
  }
  assert.fail('expected a ConfigError');
}

test('a URL proxies https and http alike, with no_proxy and the vault credential as configured', () => {
  const c = load('  upstream_proxy: http://Proxy.Corp:3128/\n  no_proxy: [internal.corp, .svc.cluster.local, "10.0.0.0/8", "[::1]:8443"]\n  upstream_proxy_credential: corp/proxy');
  const ep = { host: 'proxy.corp', port: 3128, from: 'egress.upstream_proxy', credential: { kind: 'vault', path: 'corp/proxy' } };
  assert.deepEqual(c.upstreamProxy?.https, ep);
  assert.deepEqual(c.upstreamProxy?.http, ep);
  assert.deepEqual(c.upstreamProxy?.noProxy, [
    { kind: 'domain', domain: 'internal.corp', subdomainsOnly: false, port: undefined },
    { kind: 'domain', domain: 'svc.cluster.local', subdomainsOnly: true, port: undefined },
    { kind: 'cidr', network: '10.0.0.0', bits: 8, family: 4 },
    { kind: 'ip', address: '::1', port: 8443 },
  ]);
});

test('no upstream_proxy: nothing is proxied, even with HTTPS_PROXY in the environment (I7)', () => {
  const c = load('  unmatched: deny', '', { HTTPS_PROXY: 'http://proxy.corp:3128', HTTP_PROXY: 'http://proxy.corp:3128' });
  assert.equal(c.upstreamProxy, undefined);
});

test('bad proxy URLs are refused where they are written, with the fix', () => {
  const at = (url: string): string => issues(`  upstream_proxy: ${url}`)[0]!;
  assert.match(at('http://proxy.corp'), /^4:egress\.upstream_proxy: .*give the port, as in http:\/\/proxy\.corp:3128/);
  assert.match(at('https://proxy.corp:3128'), /https:\/\/ proxies are not supported/);
  assert.match(at('socks5://proxy.corp:1080'), /socks5:\/\/ proxies are not supported/);
  assert.match(at('proxy.corp:3128'), /must be an http:\/\/ URL with a port/);
  assert.match(at('http://proxy.corp:3128/path'), /without a path/);
  const userinfo = at('http://bob:hunter2@proxy.corp:3128');
  assert.match(userinfo, /must not carry user:pass .*egress\.upstream_proxy_credential/);
  assert.ok(!userinfo.includes('hunter2'));
});

test('env: HTTPS_PROXY for https and tunnels, HTTP_PROXY for http, NO_PROXY added; lower case as fallback', () => {
  const c = load('  upstream_proxy: env\n  no_proxy: [a.test]', '', {
    HTTPS_PROXY: 'http://secure.corp:8443',
    http_proxy: 'plain.corp:3128', // no scheme: http, as curl and Go read it
    NO_PROXY: 'b.test, 192.168.0.0/16,,*',
  });
  assert.deepEqual(c.upstreamProxy?.https, { host: 'secure.corp', port: 8443, from: 'HTTPS_PROXY', credential: undefined });
  assert.deepEqual(c.upstreamProxy?.http, { host: 'plain.corp', port: 3128, from: 'http_proxy', credential: undefined });
  assert.deepEqual(
    c.upstreamProxy?.noProxy.map((e) => e.kind),
    ['domain', 'domain', 'cidr', 'all'],
  );
  assert.deepEqual(c.upstreamProxy?.configuredNoProxy.length, 1);
});

test('env: user:pass in the proxy URL becomes the credential (by variable name, never the value)', () => {
  const c = load('  upstream_proxy: env', '', { HTTPS_PROXY: 'http://bob:p%40ss@proxy.corp:3128' });
  assert.deepEqual(c.upstreamProxy?.https?.credential, { kind: 'proxy_url', variable: 'HTTPS_PROXY' });
  assert.ok(!JSON.stringify(c).includes('p%40ss'));
  const both = issues('  upstream_proxy: env\n  upstream_proxy_credential: corp/proxy', '', { HTTPS_PROXY: 'http://bob:secretpw@proxy.corp:3128' });
  assert.match(both[0]!, /HTTPS_PROXY carries user:pass and egress\.upstream_proxy_credential is set too: keep one/);
  assert.ok(!both[0]!.includes('secretpw'));
});

test('env: refusals name the variable and never show its value', () => {
  assert.match(issues('  upstream_proxy: env')[0]!, /neither HTTPS_PROXY nor HTTP_PROXY is set/);
  const bad = issues('  upstream_proxy: env', '', { HTTPS_PROXY: 'https://bob:topsecret@proxy.corp:3128' })[0]!;
  assert.match(bad, /HTTPS_PROXY \(from the environment\) https:\/\/ proxies are not supported.*\(the value was not shown\)/);
  assert.ok(!bad.includes('topsecret'));
  assert.match(issues('  upstream_proxy: env', '', { HTTPS_PROXY: 'http://p:1', NO_PROXY: 'ok.test,http://x' })[0]!, /NO_PROXY \(from the environment\) entry 2: must be a host/);
});

test('the proxy credential: one source; an env variable must be set and hold user:password', () => {
  assert.match(
    issues('  upstream_proxy: http://p:3128\n  upstream_proxy_credential: corp/proxy\n  upstream_proxy_credential_env: PROXY_CRED', '', { PROXY_CRED: 'u:p' })[0]!,
    /egress\.upstream_proxy_credential_env: give either upstream_proxy_credential \(a vault path\) or upstream_proxy_credential_env, not both/,
  );
  assert.match(issues('  upstream_proxy: http://p:3128\n  upstream_proxy_credential_env: PROXY_CRED')[0]!, /names PROXY_CRED, which is not set/);
  const noColon = issues('  upstream_proxy: http://p:3128\n  upstream_proxy_credential_env: PROXY_CRED', '', { PROXY_CRED: 'justapassword' })[0]!;
  assert.match(noColon, /PROXY_CRED must hold user:password/);
  assert.ok(!noColon.includes('justapassword'));
  assert.deepEqual(load('  upstream_proxy: http://p:3128\n  upstream_proxy_credential_env: PROXY_CRED', '', { PROXY_CRED: 'u:p' }).upstreamProxy?.https?.credential, {
    kind: 'env',
    variable: 'PROXY_CRED',
  });
  assert.match(issues('  upstream_proxy_credential_env: "u:p"')[0]!, /must be the NAME of an environment variable/);
});

test('bad no_proxy entries are located', () => {
  const got = issues('  upstream_proxy: http://p:3128\n  no_proxy: [ok.test, "10.0.0.0/33", "*.x*.test", "https://a.test"]');
  assert.deepEqual(
    got.map((g) => g.split(': ')[0]),
    ['5:egress.no_proxy[1]', '5:egress.no_proxy[2]', '5:egress.no_proxy[3]'],
  );
  assert.match(got[0]!, /prefix length after "\/" must be 0 to 32/);
});

const PLAIN_ROUTE = (extra: string): string => `routes:
  - name: legacy
    match: { host: legacy.test }
    upstream: http://legacy.internal:8080
    credential: legacy/key
    allow_plaintext: true
${extra}`;

test('a plain-http credential route through the proxy needs allow_plaintext_via_proxy (the proxy would read it)', () => {
  const got = issues('  upstream_proxy: http://p:3128', PLAIN_ROUTE(''));
  assert.equal(got.length, 1);
  assert.match(got[0]!, /^8:routes\[0\]\.upstream: this plain-http credential route would go through the upstream proxy, which would read the credential; .*egress\.no_proxy.*allow_plaintext_via_proxy: true/);
  assert.equal(load('  upstream_proxy: http://p:3128', PLAIN_ROUTE('    allow_plaintext_via_proxy: true')).routes[0]!.allowPlaintextViaProxy, true);
  // Not through the proxy: no opt-in needed.
  load('  upstream_proxy: http://p:3128\n  no_proxy: [.internal]', PLAIN_ROUTE(''));
  load('  unmatched: deny', PLAIN_ROUTE(''));
  // env mode without HTTP_PROXY: plain http goes direct.
  load('  upstream_proxy: env', PLAIN_ROUTE(''), { HTTPS_PROXY: 'http://p:3128' });
  assert.equal(issues('  upstream_proxy: env', PLAIN_ROUTE(''), { HTTP_PROXY: 'http://p:3128' }).length, 1);
});

test('SANCTUM_SIDECAR_UPSTREAM_PROXY (and --upstream-proxy) override under the same rules', () => {
  const base = load('  no_proxy: [internal.corp]\n  upstream_proxy_credential: corp/proxy');
  assert.equal(base.upstreamProxy?.https, undefined);
  const on = applyOverrides(base, {}, { SANCTUM_SIDECAR_UPSTREAM_PROXY: 'http://proxy.corp:3128' });
  assert.deepEqual(on.upstreamProxy?.https, { host: 'proxy.corp', port: 3128, from: 'SANCTUM_SIDECAR_UPSTREAM_PROXY', credential: { kind: 'vault', path: 'corp/proxy' } });
  assert.equal(on.upstreamProxy?.noProxy.length, 1);
  const flag = applyOverrides(base, { 'upstream-proxy': 'http://flag.corp:8080' }, { SANCTUM_SIDECAR_UPSTREAM_PROXY: 'http://env.corp:3128' });
  assert.equal(flag.upstreamProxy?.https?.host, 'flag.corp');
  assert.equal(flag.upstreamProxy?.https?.from, '--upstream-proxy');
  const off = applyOverrides(load('  upstream_proxy: http://p:3128'), {}, { SANCTUM_SIDECAR_UPSTREAM_PROXY: 'off' });
  assert.equal(off.upstreamProxy?.https, undefined);
  const env = applyOverrides(base, {}, { SANCTUM_SIDECAR_UPSTREAM_PROXY: 'env', HTTPS_PROXY: 'http://e.corp:3128' });
  assert.equal(env.upstreamProxy?.https?.from, 'HTTPS_PROXY');
  assert.throws(() => applyOverrides(base, {}, { SANCTUM_SIDECAR_UPSTREAM_PROXY: 'http://bob:pw@p:3128' }), /SANCTUM_SIDECAR_UPSTREAM_PROXY must not carry user:pass/);
  const plain = load('  unmatched: deny', PLAIN_ROUTE(''));
  assert.throws(() => applyOverrides(plain, {}, { SANCTUM_SIDECAR_UPSTREAM_PROXY: 'http://p:3128' }), /route legacy: this plain-http credential route would go through the upstream proxy/);
});

test('check: the summary line names where the proxy and its credential come from; warnings for likely mistakes', async () => {
  const { summarizeConfig, lintConfig } = await import('../../../src/config/summary.js');
  const c = load(
    '  upstream_proxy: http://proxy.corp:3128\n  upstream_proxy_credential: corp/proxy\n  no_proxy: [.internal.corp]',
    `routes:
  - { name: local, match: { host: local.test }, upstream: "https://127.0.0.1:8443" }
  - { name: legacy, match: { host: legacy.test }, upstream: "http://legacy.example:8080", credential: legacy/key, allow_plaintext: true, allow_plaintext_via_proxy: true }
  - { name: direct, match: { host: db.internal.corp }, credential: db/key, allow_plaintext_via_proxy: true }
  - { name: vaulted, match: { host: api.vaulted.test }, credential: v/key, mode: delegate }
`,
  );
  assert.match(summarizeConfig(c), /\nupstream proxy: every upstream and tunnel via proxy\.corp:3128 \(egress\.upstream_proxy, credential from vault path corp\/proxy\); no_proxy \.internal\.corp\n/);
  const w = lintConfig(c);
  assert.ok(w.includes("route local: upstream https://127.0.0.1:8443 is loopback but goes through the upstream proxy, whose loopback is not the sidecar's; add it to egress.no_proxy"), w.join('\n'));
  assert.ok(w.includes('route legacy: the upstream proxy reads the credential on this plain-http route (allow_plaintext_via_proxy: true)'));
  assert.ok(w.includes('route direct: allow_plaintext_via_proxy has no effect (the route does not send plain http through the upstream proxy)'));
  assert.ok(w.includes('route vaulted: delegate mode: the vault makes this request, so the upstream proxy does not apply to it'));
  const env = load('  upstream_proxy: env', '', { HTTPS_PROXY: 'http://bob:pw@s.corp:1', HTTP_PROXY: 'http://p.corp:2' });
  const line = summarizeConfig(env).split('\n').find((l) => l.startsWith('upstream proxy:'))!;
  assert.equal(line, 'upstream proxy: https upstreams and tunnels via s.corp:1 (HTTPS_PROXY, credential from the user:pass in $HTTPS_PROXY); plain http via p.corp:2 (HTTP_PROXY, no credential); no_proxy (none)');
  assert.ok(!summarizeConfig(env).includes('pw@'));
  assert.deepEqual(lintConfig(load('  upstream_proxy_credential: corp/proxy')), [
    'egress.upstream_proxy_credential has no effect without an upstream proxy (egress.upstream_proxy or SANCTUM_SIDECAR_UPSTREAM_PROXY)',
  ]);
});
