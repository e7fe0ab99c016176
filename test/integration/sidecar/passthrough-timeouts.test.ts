/**
 * Passthrough requests (allow-listed hosts, no credential) wait for the upstream only as
 * long as `timeouts.passthrough` says: an upstream that never answers gets 504
 * UPSTREAM_TIMEOUT from the configured headers timeout, not from the 60 s default.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, type Stack } from '../../helpers/stack.js';
import { rawRequest } from '../../helpers/raw.js';

let s: Stack;
before(async () => {
  s = await startStack({
    routes: 'egress: { unmatched: deny, allow: ["localhost:${ECHO_PORT}"], block_private_addresses: false }\nroutes: []\n',
    extra: 'timeouts: { passthrough: { connect: 2s, headers: 300ms, idle: 2s } }',
  });
});
after(() => s.close());

test('a passthrough upstream that never answers is cut off at timeouts.passthrough.headers', async () => {
  const r = await rawRequest(s.proxyPort, `GET http://localhost:${s.echo.port}/hang HTTP/1.1\r\nHost: localhost:${s.echo.port}\r\nConnection: close\r\n\r\n`, 5000);
  assert.equal(r.status, 504);
  assert.equal(r.headers['x-sanctum-error'], 'UPSTREAM_TIMEOUT');
  const line = s.requestLines().at(-1)!;
  assert.equal(line.code, 'UPSTREAM_TIMEOUT');
  assert.equal(line.route, null, 'passthrough carries no route');
});

test('the same host answers normally within the timeouts', async () => {
  const r = await rawRequest(s.proxyPort, `GET http://localhost:${s.echo.port}/ok HTTP/1.1\r\nHost: localhost:${s.echo.port}\r\nConnection: close\r\n\r\n`);
  assert.equal(r.status, 200);
  assert.equal(r.headers['x-sanctum-error'], undefined);
});
