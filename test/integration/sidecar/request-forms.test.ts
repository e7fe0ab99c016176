/**
 * All three request forms (absolute-form, prefix, host-header) reach the echo upstream
 * with exactly one injected header, the agent's placeholder gone, hop-by-hop, proxy and
 * override headers gone, and everything else byte-identical, the path included.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startStack, STANDARD_ROUTES, SECRETS, PLACEHOLDER, type Stack } from '../../helpers/stack.js';
import { rawRequest } from '../../helpers/raw.js';

let s: Stack;
before(async () => {
  s = await startStack({
    routes: STANDARD_ROUTES.replace('block_private_addresses: false', 'block_private_addresses: false\n  host_header_form: true'),
  });
});
after(() => s.close());

const AGENT_HEADERS =
  'Authorization: Bearer ' + PLACEHOLDER + '\r\n' +
  'Proxy-Authorization: Basic YWdlbnQ6dG9rZW4=\r\n' +
  'Proxy-Connection: keep-alive\r\n' +
  'Keep-Alive: timeout=5\r\n' +
  'X-HTTP-Method-Override: DELETE\r\n' +
  'X-Original-URL: /admin\r\n' +
  'Connection: keep-alive, x-drop-me\r\n' +
  'X-Drop-Me: gone\r\n' +
  'X-Custom: Kept-Value_1\r\n' +
  'Accept: application/json\r\n' +
  'User-Agent: agent-sdk/1.0\r\n';

function assertForwarded(idx: number, expectedPath: string): void {
  const cap = s.echo.requests[idx]!;
  assert.equal(cap.url, expectedPath, 'path and query forwarded byte-identical');
  const names = cap.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
  assert.equal(names.filter((n) => n === 'authorization').length, 1, 'exactly one Authorization header');
  assert.equal(cap.headers.authorization, `Bearer ${SECRETS.openai}`);
  for (const gone of ['proxy-authorization', 'proxy-connection', 'keep-alive', 'x-http-method-override', 'x-original-url', 'x-drop-me']) {
    assert.ok(!names.includes(gone), `${gone} must be stripped`);
  }
  assert.equal(cap.headers['x-custom'], 'Kept-Value_1');
  assert.equal(cap.headers.accept, 'application/json');
  assert.equal(cap.headers['user-agent'], 'agent-sdk/1.0');
  assert.equal(cap.headers.host, `127.0.0.1:${s.echo.port}`, 'Host comes from the route upstream');
  assert.ok(!JSON.stringify(cap.headers).includes(PLACEHOLDER), 'the placeholder never reaches the upstream');
}

test('absolute-form request is forwarded with exactly the vault header', async () => {
  const before = s.echo.requests.length;
  const r = await rawRequest(
    s.proxyPort,
    `GET http://api.openai.com/v1/models?limit=2&q=a%20b HTTP/1.1\r\nHost: api.openai.com\r\n${AGENT_HEADERS}\r\n`,
  );
  assert.equal(r.status, 200);
  assertForwarded(before, '/v1/models?limit=2&q=a%20b');
});

test('prefix (base-URL) request is forwarded with the prefix stripped', async () => {
  const before = s.echo.requests.length;
  const r = await rawRequest(
    s.proxyPort,
    `GET /openai/v1/models?limit=2&q=a%20b HTTP/1.1\r\nHost: 127.0.0.1:${s.proxyPort}\r\n${AGENT_HEADERS}\r\n`,
  );
  assert.equal(r.status, 200);
  assertForwarded(before, '/v1/models?limit=2&q=a%20b');
});

test('host-header form request is forwarded when enabled', async () => {
  const before = s.echo.requests.length;
  const r = await rawRequest(s.proxyPort, `GET /v1/models?limit=2&q=a%20b HTTP/1.1\r\nHost: api.openai.com\r\n${AGENT_HEADERS}\r\n`);
  assert.equal(r.status, 200);
  assertForwarded(before, '/v1/models?limit=2&q=a%20b');
});

test('custom header route replaces the agent x-api-key and strips its Authorization', async () => {
  const before = s.echo.requests.length;
  const res = await request(`${s.proxyUrl}/anthropic/v1/messages`, {
    method: 'POST',
    headers: { 'x-api-key': PLACEHOLDER, authorization: `Bearer ${PLACEHOLDER}`, 'content-type': 'application/json' },
    body: '{"model":"claude","max_tokens":1}',
  });
  assert.equal(res.statusCode, 200);
  await res.body.dump();
  const cap = s.echo.requests[before]!;
  assert.equal(cap.headers['x-api-key'], SECRETS.anthropic);
  assert.equal(cap.headers.authorization, undefined);
  assert.equal(cap.body, '{"model":"claude","max_tokens":1}');
  assert.equal(cap.method, 'POST');
});

test('the canonical log line records form, route and outcome for each request', async () => {
  const lines = s.requestLines();
  const forms = new Set(lines.map((l) => l.form));
  for (const f of ['absolute', 'prefix', 'host-header']) assert.ok(forms.has(f), `a ${f} line was logged`);
  for (const l of lines) {
    for (const k of ['id', 'form', 'route', 'method', 'host', 'status', 'code', 'vault_ms', 'upstream_ms', 'total_ms', 'bytes_in', 'bytes_out', 'cache']) {
      assert.ok(k in l, `field ${k} present`);
    }
  }
  assert.ok(s.logs.every((l) => !l.includes(SECRETS.openai) && !l.includes(SECRETS.anthropic)));
});
