// The overlap rule: two routes are a load error exactly when some request matches both
// and the specificity order (exact host > longer wildcard; longer literal path; exact
// pattern > /*) cannot choose between them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../../src/errors.js';
import { parseConfig } from '../../../src/config/load.js';

function load(routes: string): string[] {
  try {
    parseConfig(`version: 1\nvault: { agent: a }\nroutes:\n${routes}`, 't.yaml', {});
    return [];
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.issues.map((i) => `${i.line} ${i.path}: ${i.message}`);
  }
}

const r = (name: string, body: string) => `  - name: ${name}\n${body.trim().split('\n').map((l) => `    ${l.trim()}`).join('\n')}\n`;

test('same host, same pattern, shared method: ambiguous', () => {
  const issues = load(r('a', 'match: { host: h.test }') + r('b', 'match: { host: h.test }'));
  assert.equal(issues.length, 1);
  assert.match(issues[0]!, /^7 routes\[1\]\.match: route b overlaps route a \(routes\[0\], line 4\): same host h\.test, same path pattern \/\*, and both allow every method/);
  assert.equal(load(r('a', 'match: { host: h.test, paths: [/v1/*] }') + r('b', 'match: { host: h.test, paths: [/x, /v1/*], methods: [GET] }')).length, 1);
  assert.equal(load(r('a', 'match: { host: h.test, path: /v1/models, methods: [GET, POST] }') + r('b', 'match: { host: h.test, path: /v1/models, methods: [post] }')).length, 1);
  assert.equal(load(r('a', 'match: { host: "*.h.test" }\nupstream: https://h.test\nallow_wildcard_host: true') + r('b', 'match: { host: "*.H.test." }\nupstream: https://h.test\nallow_wildcard_host: true')).length, 1);
});

test('disjoint methods on the same pattern are fine', () => {
  assert.deepEqual(load(r('read', 'match: { host: h.test, methods: [GET, HEAD] }') + r('write', 'match: { host: h.test, methods: [POST, PUT] }')), []);
});

test('a more specific pattern on the same host is fine: the most specific route wins', () => {
  assert.deepEqual(
    load(
      r('any', 'match: { host: h.test }') +
        r('v1', 'match: { host: h.test, path: /v1/* }') +
        r('models', 'match: { host: h.test, path: /v1/models }') +
        r('v1-exact', 'match: { host: h.test, path: /v1 }'),
    ),
    [],
  );
});

test('exact host beside a covering wildcard, and nested wildcards, are fine', () => {
  const w = (name: string, host: string) => r(name, `match: { host: "${host}" }\nupstream: https://gw.test\nallow_wildcard_host: true`);
  assert.deepEqual(load(w('wide', '*.example.com') + w('narrow', '*.eu.example.com') + r('exact', 'match: { host: api.example.com }')), []);
});

test('different hosts with the same paths are fine', () => {
  assert.deepEqual(load(r('a', 'match: { host: a.test, path: /v1/* }') + r('b', 'match: { host: b.test, path: /v1/* }')), []);
});

test('prefixes: equal full patterns with a shared method are ambiguous', () => {
  const same = load(r('a', 'prefix: /svc\nupstream: https://a.test') + r('b', 'prefix: /svc\nupstream: https://b.test'));
  assert.equal(same.length, 1);
  assert.match(same[0]!, /routes\[1\]\.prefix: route b overlaps route a .*both match \/svc\/\* through their prefixes/);
  // prefix /openai + /v1/* and prefix /openai/v1 are the same set of requests.
  assert.equal(load(r('a', 'prefix: /openai\nmatch: { path: /v1/* }\nupstream: https://a.test') + r('b', 'prefix: /openai/v1\nupstream: https://b.test')).length, 1);
});

test('prefixes: nested prefixes are fine (longer wins), as are disjoint methods', () => {
  assert.deepEqual(load(r('all', 'prefix: /openai\nupstream: https://a.test') + r('v2', 'prefix: /openai/v2\nupstream: https://b.test')), []);
  assert.deepEqual(load(r('a', 'prefix: /svc\nmatch: { methods: [GET] }\nupstream: https://a.test') + r('b', 'prefix: /svc\nmatch: { methods: [POST] }\nupstream: https://b.test')), []);
  assert.deepEqual(load(r('a', 'prefix: /svc\nmatch: { path: /v1/* }\nupstream: https://a.test') + r('b', 'prefix: /svc\nmatch: { path: /v2/* }\nupstream: https://b.test')), []);
});

test('host form and prefix form are separate: a prefix route never collides with a host route', () => {
  assert.deepEqual(load(r('host', 'match: { host: api.openai.com }') + r('pfx', 'prefix: /openai\nupstream: https://api.openai.com')), []);
});

test('duplicate names are reported even when a route has other problems', () => {
  const issues = load(r('a', 'match: { host: "https://x" }') + r('a', 'match: { host: y.test }'));
  assert.ok(issues.some((i) => /^6 routes\[1\]\.name: duplicate route name "a" \(first used by routes\[0\] on line 4\)/.test(i)), issues.join('\n'));
});

test('ports: routes on the same host and pattern overlap only when a port can match both', () => {
  assert.deepEqual(load(r('tls', 'match: { host: h.test }') + r('alt', 'match: { host: h.test, port: 8443 }')), [], 'default ports vs 8443');
  assert.deepEqual(load(r('a', 'match: { host: h.test, ports: [8080] }') + r('b', 'match: { host: h.test, ports: [9090, 9091] }')), []);
  assert.equal(load(r('a', 'match: { host: h.test }') + r('b', 'match: { host: h.test, ports: [443, 8443] }')).length, 1, '443 is the https default');
  assert.equal(load(r('a', 'match: { host: h.test, ports: [8080] }') + r('b', 'match: { host: h.test, ports: [8080] }')).length, 1);
});
