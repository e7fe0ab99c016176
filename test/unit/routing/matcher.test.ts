// The route table: specificity, segment boundaries, methods, deny-by-default and
// passthrough (I4), prefix stripping and upstream paths (I3).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../../src/config/load.js';
import { RouteTable } from '../../../src/routing/matcher.js';
import { parseAbsoluteTarget } from '../../../src/routing/target.js';
import type { MatchResult } from '../../../src/routing/types.js';

function table(routes: string, egress = ''): RouteTable {
  const text = `version: 1\nvault: { agent: t }\n${egress}\nroutes:\n${routes}`;
  const c = parseConfig(text, 'test.yaml', {});
  return new RouteTable(c.routes, c.egress);
}

/** `route-name upstreamPath`, `passthrough`, or the deny code. */
function show(m: MatchResult | null): string {
  if (m === null) return 'null';
  if (m.kind === 'route') return `${m.route.name} ${m.upstreamPath}`;
  return m.kind === 'deny' ? m.code : 'passthrough';
}

const host = (t: RouteTable, method: string, url: string) => show(t.matchHost(method, parseAbsoluteTarget(url)));

test('path patterns match on whole segments: /v1/* matches /v1 and /v1/x, never /v1x', () => {
  const t = table(`
  - name: a
    match: { host: api.test, path: /v1/* }`);
  assert.equal(host(t, 'GET', 'http://api.test/v1'), 'a /v1');
  assert.equal(host(t, 'GET', 'http://api.test/v1/'), 'a /v1/');
  assert.equal(host(t, 'GET', 'http://api.test/v1/chat/completions'), 'a /v1/chat/completions');
  assert.equal(host(t, 'GET', 'http://api.test/v1x'), 'METHOD_DENIED');
  assert.equal(host(t, 'GET', 'http://api.test/v2/x'), 'METHOD_DENIED');
  assert.equal(host(t, 'GET', 'http://api.test/'), 'METHOD_DENIED');
});

test('the most specific route wins: exact beats /*, longer literal beats shorter', () => {
  const t = table(`
  - name: any
    match: { host: api.test }
  - name: v1
    match: { host: api.test, path: /v1/* }
  - name: models
    match: { host: api.test, path: /v1/models/* }
  - name: models-exact
    match: { host: api.test, path: /v1/models }`);
  assert.equal(host(t, 'GET', 'http://api.test/other'), 'any /other');
  assert.equal(host(t, 'GET', 'http://api.test/v1/chat'), 'v1 /v1/chat');
  assert.equal(host(t, 'GET', 'http://api.test/v1/models'), 'models-exact /v1/models');
  assert.equal(host(t, 'GET', 'http://api.test/v1/models/gpt'), 'models /v1/models/gpt');
  assert.equal(host(t, 'GET', 'http://api.test/v1/modelsx'), 'v1 /v1/modelsx');
  // Config order does not matter.
  const r = table(`
  - name: models-exact
    match: { host: api.test, path: /v1/models }
  - name: v1
    match: { host: api.test, path: /v1/* }`);
  assert.equal(host(r, 'GET', 'http://api.test/v1/models'), 'models-exact /v1/models');
});

test('methods filter; a routed host with no fitting route is METHOD_DENIED', () => {
  const t = table(`
  - name: read
    match: { host: api.test, path: /v1/*, methods: [get, HEAD] }
  - name: write
    match: { host: api.test, path: /v1/*, methods: [POST] }
  - name: admin
    match: { host: api.test, path: /v1/admin, methods: [GET] }`);
  assert.equal(host(t, 'GET', 'http://api.test/v1/x'), 'read /v1/x');
  assert.equal(host(t, 'HEAD', 'http://api.test/v1/x'), 'read /v1/x');
  assert.equal(host(t, 'POST', 'http://api.test/v1/x'), 'write /v1/x');
  assert.equal(host(t, 'DELETE', 'http://api.test/v1/x'), 'METHOD_DENIED');
  // The exact route does not admit POST, so the next most specific route does.
  assert.equal(host(t, 'POST', 'http://api.test/v1/admin'), 'write /v1/admin');
  assert.equal(host(t, 'GET', 'http://api.test/v1/admin'), 'admin /v1/admin');
});

test('percent-encoded unreserved characters cannot dodge a more specific route: /v1/%61dmin', () => {
  const t = table(`
  - name: v1
    match: { host: api.test, path: /v1/*, methods: [GET, POST] }
  - name: admin
    match: { host: api.test, path: /v1/admin, methods: [GET] }`);
  assert.equal(host(t, 'GET', 'http://api.test/v1/%61dmin'), 'admin /v1/%61dmin', 'bytes sent are the bytes received');
  assert.equal(host(t, 'POST', 'http://api.test/v1/%61dmin'), 'v1 /v1/%61dmin');
  const u = table(`
  - name: admin-only
    match: { host: api.test, path: /admin/*, methods: [GET] }`);
  assert.equal(host(u, 'GET', 'http://api.test/%61dmin/x'), 'admin-only /%61dmin/x');
});

test('deny by default: an unrouted host is NO_ROUTE unless allow-listed or unmatched: passthrough', () => {
  const t = table(
    `
  - name: gh
    match: { host: api.github.com }
    credential: github/token`,
    'egress: { allow: [pypi.org, "*.pythonhosted.org", api.github.com] }',
  );
  assert.equal(host(t, 'GET', 'http://example.com/'), 'NO_ROUTE');
  assert.equal(host(t, 'GET', 'http://pypi.org/simple/'), 'passthrough');
  assert.equal(host(t, 'GET', 'http://files.pythonhosted.org/x'), 'passthrough');
  assert.equal(host(t, 'GET', 'http://a.b.pythonhosted.org/x'), 'passthrough');
  assert.equal(host(t, 'GET', 'http://pythonhosted.org/x'), 'NO_ROUTE', '*.suffix does not cover the bare suffix');
  assert.equal(host(t, 'GET', 'http://evilpythonhosted.org/x'), 'NO_ROUTE');
  assert.equal(host(t, 'GET', 'http://api.github.com/user'), 'gh /user', 'a routed host is never passed through');
  assert.equal(t.isAllowedPassthrough('api.github.com', 443, 'tunnel'), false);
  assert.equal(t.isAllowedPassthrough('pypi.org', 443, 'tunnel'), true);
  assert.equal(t.isAllowedPassthrough('example.com', 443, 'tunnel'), false);

  const open = table(
    `
  - name: gh
    match: { host: api.github.com, path: /v1/* }
    credential: github/token`,
    'egress: { unmatched: passthrough }',
  );
  assert.equal(host(open, 'GET', 'http://example.com/'), 'passthrough');
  assert.equal(host(open, 'GET', 'http://api.github.com/v2'), 'METHOD_DENIED', 'credential host: never passthrough, even when open');
  assert.equal(open.isAllowedPassthrough('api.github.com', 443, 'tunnel'), false);
});

test('wildcard hosts cover one or more labels; exact hosts and longer suffixes win', () => {
  const t = table(`
  - name: wide
    match: { host: "*.example.com" }
    upstream: https://gw.example.com
    allow_wildcard_host: true
  - name: narrow
    match: { host: "*.eu.example.com" }
    upstream: https://eu.example.com/base
    allow_wildcard_host: true
  - name: exact
    match: { host: api.example.com, path: /v1/* }`);
  assert.equal(host(t, 'GET', 'http://a.example.com/x'), 'wide /x');
  assert.equal(host(t, 'GET', 'http://a.b.example.com/x'), 'wide /x');
  assert.equal(host(t, 'GET', 'http://x.eu.example.com/y'), 'narrow /base/y');
  assert.equal(host(t, 'GET', 'http://api.example.com/v1/q'), 'exact /v1/q');
  assert.equal(host(t, 'GET', 'http://api.example.com/v2/q'), 'wide /v2/q', 'falls back to the wildcard when the exact route does not fit');
  assert.equal(host(t, 'GET', 'http://example.com/x'), 'NO_ROUTE');
  assert.equal(host(t, 'GET', 'http://badexample.com/x'), 'NO_ROUTE');
  assert.deepEqual(t.routesForHost('api.example.com').map((r) => r.name), ['exact', 'wide']);
  assert.deepEqual(t.routesForHost('q.eu.example.com').map((r) => r.name), ['narrow', 'wide']);
  assert.deepEqual(t.routesForHost('example.org'), []);
});

test('prefix routes strip the prefix on segment boundaries and join the upstream base path', () => {
  const t = table(`
  - name: openai
    prefix: /openai
    upstream: https://api.openai.com
  - name: base
    prefix: /x
    upstream: https://x.test/v1
  - name: deep
    prefix: /svc/eu
    upstream: https://eu.svc.test/api/`);
  const p = (path: string, method = 'POST') => show(t.matchPrefix(method, path));
  assert.equal(p('/openai/v1/chat'), 'openai /v1/chat');
  assert.equal(p('/openai'), 'openai /');
  assert.equal(p('/openai/'), 'openai /');
  assert.equal(p('/openaix/v1'), 'null');
  assert.equal(p('/open'), 'null');
  assert.equal(p('/x/chat'), 'base /v1/chat');
  assert.equal(p('/x'), 'base /v1/');
  assert.equal(p('/svc/eu/a/b'), 'deep /api/a/b');
  assert.equal(p('/svc/e'), 'null');
  assert.equal(p('/svc'), 'null');
  assert.equal(p('/'), 'null');
});

test('prefix routes: path patterns apply after the prefix; the more specific full pattern wins', () => {
  const t = table(`
  - name: openai
    prefix: /openai
    upstream: https://api.openai.com
  - name: openai-v2
    prefix: /openai/v2
    upstream: https://v2.openai.test
  - name: files
    prefix: /openai
    match: { path: /v1/files/*, methods: [GET] }
    upstream: https://files.openai.test`);
  const p = (path: string, method = 'GET') => show(t.matchPrefix(method, path));
  assert.equal(p('/openai/v1/chat'), 'openai /v1/chat');
  assert.equal(p('/openai/v2/chat'), 'openai-v2 /chat');
  assert.equal(p('/openai/v2'), 'openai-v2 /');
  assert.equal(p('/openai/v1/files/abc'), 'files /v1/files/abc');
  assert.equal(p('/openai/v1/files/abc', 'POST'), 'openai /v1/files/abc');
  const m = table(`
  - name: only-get
    prefix: /ro
    match: { methods: [GET] }
    upstream: https://ro.test`);
  assert.equal(show(m.matchPrefix('POST', '/ro/x')), 'METHOD_DENIED');
  assert.equal(show(m.matchPrefix('POST', '/rw/x')), 'null');
});

test('a route with host and prefix is reachable both ways with the same upstream path', () => {
  const t = table(`
  - name: openai
    match: { host: api.openai.com, path: /v1/* }
    prefix: /openai
    credential: openai/api-key`);
  assert.equal(host(t, 'POST', 'http://api.openai.com/v1/chat/completions'), 'openai /v1/chat/completions');
  assert.equal(show(t.matchPrefix('POST', '/openai/v1/chat/completions')), 'openai /v1/chat/completions');
  assert.equal(show(t.matchPrefix('POST', '/openai/v2/x')), 'METHOD_DENIED');
  const r = t.matchHost('GET', parseAbsoluteTarget('http://api.openai.com/v1/models?x=1'));
  assert.equal(r.kind === 'route' && r.route.upstream.origin, 'https://api.openai.com');
  assert.equal(r.kind === 'route' && r.upstreamPath, '/v1/models', 'the query is appended by the caller');
});

test('host-header form: only when enabled, only exact route hosts, never passthrough', () => {
  const routes = `
  - name: gh
    match: { host: api.github.com }
    credential: github/token
  - name: wild
    match: { host: "*.wild.test" }
    upstream: https://wild.test
    allow_wildcard_host: true`;
  const off = table(routes);
  assert.equal(show(off.routeForHostHeaderForm('GET', 'api.github.com', 80, '/user')), 'null');
  const on = table(routes, 'egress: { host_header_form: true, unmatched: passthrough }');
  assert.equal(show(on.routeForHostHeaderForm('GET', 'api.github.com', 80, '/user')), 'gh /user');
  assert.equal(show(on.routeForHostHeaderForm('GET', 'a.wild.test', 80, '/x')), 'null');
  assert.equal(show(on.routeForHostHeaderForm('GET', 'example.com', 80, '/x')), 'null');
});

test('credential-route lookups for CONNECT decisions', () => {
  const t = table(`
  - name: gh
    match: { host: api.github.com }
    credential: github/token
  - name: plain
    match: { host: docs.test }`);
  assert.equal(t.hasCredentialRouteForHost('api.github.com'), true);
  assert.equal(t.hasCredentialRouteForHost('docs.test'), false);
  assert.equal(t.hasCredentialRouteForHost('other.test'), false);
  assert.deepEqual(t.routesForHost('docs.test').map((r) => r.name), ['plain']);
});

test('a request port the route does not list is NO_ROUTE; a listed one dials the route upstream', () => {
  const t = table(`
  - name: gh
    match: { host: api.github.com }
    credential: github/token
  - name: alt
    match: { host: alt.test, port: 8080 }
    upstream: https://alt.test:9443/base`);
  assert.equal(host(t, 'GET', 'http://api.github.com:8080/user'), 'NO_ROUTE');
  assert.equal(host(t, 'GET', 'http://alt.test:8080/user'), 'alt /base/user');
});

test('matching is fast enough for the hot path', () => {
  const routes = Array.from({ length: 200 }, (_, i) => `
  - name: r${i}
    match: { host: h${i}.test, path: /v${i}/* }
    prefix: /p${i}`).join('');
  const t = table(routes);
  const target = parseAbsoluteTarget('http://h150.test/v150/chat/completions');
  const start = process.hrtime.bigint();
  for (let i = 0; i < 100_000; i++) {
    t.matchHost('POST', target);
    t.matchPrefix('POST', '/p150/v150/x');
  }
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  assert.ok(ms < 2000, `200k lookups took ${ms} ms`);
});

test("ports are part of the route: the scheme's default port only, unless match.port(s) lists others", () => {
  const t = table(`
  - name: api
    match: { host: api.test }
  - name: alt
    match: { host: api.test, ports: [8443, 9000], path: /v1/* }`);
  assert.equal(host(t, 'GET', 'http://api.test/x'), 'api /x');
  assert.equal(host(t, 'GET', 'https://api.test/x'), 'api /x');
  assert.equal(host(t, 'GET', 'http://api.test:443/x'), 'NO_ROUTE', 'https default port on http:// is not the default');
  assert.equal(host(t, 'GET', 'https://api.test:80/x'), 'NO_ROUTE');
  assert.equal(host(t, 'GET', 'http://api.test:8080/x'), 'NO_ROUTE');
  assert.equal(host(t, 'GET', 'http://api.test:8443/v1/x'), 'alt /v1/x');
  assert.equal(host(t, 'GET', 'https://api.test:9000/v1/x'), 'alt /v1/x');
  assert.equal(host(t, 'GET', 'http://api.test:8443/v2'), 'METHOD_DENIED', 'a listed port with no fitting path');
  assert.deepEqual(t.routesForHost('api.test', 443).map((r) => r.name), ['api']);
  assert.deepEqual(t.routesForHost('api.test', 80).map((r) => r.name), ['api']);
  assert.deepEqual(t.routesForHost('api.test', 8443).map((r) => r.name), ['alt']);
  assert.deepEqual(t.routesForHost('api.test', 22), []);
  assert.equal(show(t.routeForHostHeaderForm('GET', 'api.test', 8080, '/x')), 'null', 'host-header form off');
});

test('egress.allow ports: without one, 80 for plain HTTP and 443 for tunnels; with one, exactly it', () => {
  const t = table(
    `
  - name: gh
    match: { host: api.github.com }`,
    'egress: { allow: [pypi.org, "files.test:8443", "*.wild.test:9000", "[::1]:8080"] }',
  );
  assert.equal(host(t, 'GET', 'http://pypi.org/'), 'passthrough');
  assert.equal(host(t, 'GET', 'http://pypi.org:8080/'), 'NO_ROUTE');
  assert.equal(t.isAllowedPassthrough('pypi.org', 443, 'tunnel'), true);
  assert.equal(t.isAllowedPassthrough('pypi.org', 80, 'tunnel'), false, 'byte tunnels go to 443 only');
  assert.equal(t.isAllowedPassthrough('pypi.org', 22, 'tunnel'), false);
  assert.equal(t.isAllowedPassthrough('files.test', 8443, 'tunnel'), true);
  assert.equal(t.isAllowedPassthrough('files.test', 443, 'tunnel'), false);
  assert.equal(host(t, 'GET', 'http://files.test:8443/'), 'passthrough');
  assert.equal(t.isAllowedPassthrough('a.wild.test', 9000, 'tunnel'), true);
  assert.equal(t.isAllowedPassthrough('a.wild.test', 443, 'tunnel'), false);
  assert.equal(t.isAllowedPassthrough('::1', 8080, 'http'), true);
  const open = table(`
  - name: gh
    match: { host: api.github.com }`, 'egress: { unmatched: passthrough }');
  assert.equal(open.isAllowedPassthrough('example.com', 443, 'tunnel'), true);
  assert.equal(open.isAllowedPassthrough('example.com', 8080, 'tunnel'), true, 'unmatched passthrough is open egress: every port');
  assert.equal(host(open, 'GET', 'http://example.com:8080/'), 'passthrough');
  assert.equal(host(open, 'GET', 'http://api.github.com:8080/'), 'NO_ROUTE', 'never for a routed host, whatever the port');
});
