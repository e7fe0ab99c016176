// Hosts, addresses and upstream URLs in routes.yaml share the request-target grammar.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkAddress, checkConfigHost, checkUpstream } from '../../../src/config/hosts.js';

const host = (raw: string, wildcard = true) => {
  const c = checkConfigHost(raw, wildcard);
  return c.ok ? c.value : `! ${c.message}`;
};

test('config hosts are normalised like request hosts', () => {
  assert.equal(host('API.OpenAI.com.'), 'api.openai.com');
  assert.equal(host('xn--pple-43d.com'), 'xn--pple-43d.com');
  assert.equal(host('10.0.0.1'), '10.0.0.1');
  assert.equal(host('[::1]'), '::1');
  assert.equal(host('::1'), '::1');
  assert.equal(host('*.Example.COM'), '*.example.com');
});

test('config hosts refuse URLs, ports, paths, non-ASCII, bad wildcards and IP tricks', () => {
  assert.match(host('https://api.openai.com'), /not a URL/);
  assert.match(host('api.openai.com:443'), /without a port/);
  assert.match(host('api.openai.com/v1'), /without a path/);
  assert.match(host('аpple.com'), /punycode/);
  assert.match(host('user@api.test'), /userinfo/);
  assert.match(host('*.com'), /at least 2 labels/);
  assert.match(host('*.10.0.0.1'), /IP address/);
  assert.match(host('api.*.test'), /whole leading label/);
  assert.match(host('*.example.com', false), /not allowed here/);
  assert.match(host('127.1'), /IPv4/);
  assert.match(host('api..test'), /empty label/);
  assert.equal(checkConfigHost('*.localhost', true, 1).ok, true, 'egress.allow may use one-label suffixes');
});

test('listen and vault addresses are host:port', () => {
  assert.deepEqual(checkAddress('127.0.0.1:0', true), { ok: true, value: { host: '127.0.0.1', port: 0 } });
  assert.deepEqual(checkAddress('[::1]:7600', false), { ok: true, value: { host: '::1', port: 7600 } });
  assert.equal(checkAddress('127.0.0.1:0', false).ok, false);
  assert.equal(checkAddress('localhost', true).ok, false);
  assert.equal(checkAddress('http://127.0.0.1:80', true).ok, false);
});

test('upstreams: origin, port and base path; no userinfo, query or fragment', () => {
  assert.deepEqual(checkUpstream('https://api.openai.com'), {
    ok: true,
    value: { scheme: 'https', host: 'api.openai.com', port: 443, basePath: '', origin: 'https://api.openai.com', authority: 'api.openai.com' },
  });
  assert.deepEqual(checkUpstream('http://[::1]:8080/v1/'), {
    ok: true,
    value: { scheme: 'http', host: '::1', port: 8080, basePath: '/v1', origin: 'http://[::1]:8080', authority: '[::1]:8080' },
  });
  const explicitDefault = checkUpstream('https://x.test:443/');
  assert.equal(explicitDefault.ok && explicitDefault.value.origin, 'https://x.test');
  for (const bad of ['https://u:p@x.test', 'https://x.test/?a=1', 'https://x.test/#f', 'ftp://x.test', 'x.test', 'https://x.test/a/../b', 'https://x.test//a', 'https://bücher.test']) {
    assert.equal(checkUpstream(bad).ok, false, bad);
  }
});
