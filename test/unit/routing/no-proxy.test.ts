// no_proxy grammar (Go's and curl's): names with their subdomains, subdomains only,
// IP addresses with or without port, CIDRs for IP destinations, `*`; refusals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bypassesProxy, formatNoProxyEntry, isLoopbackDestination, parseNoProxyEntry } from '../../../src/routing/no-proxy.js';

const list = (...raw: string[]) => raw.map(parseNoProxyEntry);

test('matching table', () => {
  const entries = list('internal.corp', '.svc.local', '*.apps.test', '10.0.0.0/8', 'fd00::/8', '192.168.1.5', 'api.corp:8443', '[::1]:9000');
  const cases: Array<[string, number, boolean]> = [
    ['internal.corp', 443, true],
    ['a.b.internal.corp', 443, true],
    ['xinternal.corp', 443, false], // a suffix is whole labels
    ['svc.local', 443, false], // .x: subdomains only
    ['db.svc.local', 5432, true],
    ['apps.test', 443, false],
    ['web.apps.test', 443, true],
    ['10.200.0.1', 443, true],
    ['11.0.0.1', 443, false],
    ['fd12::1', 443, true],
    ['fe80::1', 443, false],
    ['192.168.1.5', 80, true],
    ['192.168.1.6', 80, false],
    ['api.corp', 8443, true],
    ['api.corp', 443, false], // a port limits the entry to that port
    ['::1', 9000, true],
    ['::1', 9001, false],
    ['api.openai.com', 443, false],
    ['127.0.0.1', 443, false], // loopback is not implicit
    ['localhost', 443, false],
  ];
  for (const [host, port, expected] of cases) assert.equal(bypassesProxy(entries, host, port), expected, `${host}:${port}`);
});

test('a CIDR never matches a name (nothing is resolved to decide)', () => {
  assert.equal(bypassesProxy(list('0.0.0.0/0'), 'internal.corp', 443), false);
  assert.equal(bypassesProxy(list('0.0.0.0/0'), '8.8.8.8', 443), true);
});

test('* bypasses everything; an empty list nothing', () => {
  assert.equal(bypassesProxy(list('*'), 'anything.test', 1), true);
  assert.equal(bypassesProxy([], 'anything.test', 1), false);
});

test('entries are normalized and print back canonically', () => {
  assert.deepEqual(
    list(' Internal.CORP. ', '*.Apps.test', '.svc.local', '10.0.0.0/8', '[::1]:9000', '::1', 'api.corp:8443', '*').map(formatNoProxyEntry),
    ['internal.corp', '.apps.test', '.svc.local', '10.0.0.0/8', '[::1]:9000', '::1', 'api.corp:8443', '*'],
  );
});

test('refusals say what is wrong', () => {
  const bad: Array<[string, RegExp]> = [
    ['', /empty/],
    ['http://a.test', /not a URL/],
    ['10.0.0.0/40', /0 to 32/],
    ['fd00::/129', /0 to 128/],
    ['host.test/8', /must start with an IP address/],
    ['a*.test', /whole leading label/],
    ['.10.0.0.1', /cannot apply to an IP address/],
    ['a.test:0', /port/],
    ['0x7f.0.0.1', /canonical IPv4/],
  ];
  for (const [raw, re] of bad) assert.throws(() => parseNoProxyEntry(raw), re, raw);
});

test('loopback destinations are recognised (for the check warning)', () => {
  for (const h of ['localhost', 'app.localhost', '127.0.0.1', '127.9.9.9', '::1']) assert.equal(isLoopbackDestination(h), true, h);
  for (const h of ['localhost.test', '128.0.0.1', '::2']) assert.equal(isLoopbackDestination(h), false, h);
});
