/**
 * Security regressions, each named after its attack (SECURITY.md). Every case is sent
 * over a raw socket; the assertion is on the status and code, and on what the upstream
 * received: nothing, or nothing carrying the credential somewhere it must not go.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, STANDARD_ROUTES, SECRETS, PLACEHOLDER, type Stack } from '../helpers/stack.js';
import { rawRequest, type RawResponse } from '../helpers/raw.js';

let s: Stack;
before(async () => {
  s = await startStack({ routes: STANDARD_ROUTES });
});
after(() => s.close());

async function refused(req: string, status: number, code: string): Promise<RawResponse> {
  const n = s.echo.requests.length;
  const r = await rawRequest(s.proxyPort, req);
  assert.equal(r.status, status, `status for ${JSON.stringify(req.split('\r\n')[0])}: ${r.raw.slice(0, 200)}`);
  if (code !== '') assert.equal(r.headers['x-sanctum-error'], code);
  assert.equal(s.echo.requests.length, n, 'nothing reached the upstream');
  assert.ok(!r.raw.includes(SECRETS.openai));
  return r;
}

async function stillServes(): Promise<void> {
  const r = await rawRequest(s.proxyPort, 'GET http://api.openai.com/v1/models HTTP/1.1\r\nHost: api.openai.com\r\n\r\n');
  assert.equal(r.status, 200);
}

test('userinfo host: http://api.openai.com@evil.test/ is refused', async () => {
  await refused('GET http://api.openai.com@evil.test/v1/models HTTP/1.1\r\nHost: evil.test\r\n\r\n', 400, 'BAD_TARGET');
  await stillServes();
});

test('Host mismatch: absolute-form authority and Host disagree', async () => {
  await refused('GET http://api.openai.com/v1/models HTTP/1.1\r\nHost: evil.test\r\n\r\n', 400, 'HOST_MISMATCH');
});

test('dot-segments: /v1/../admin is refused', async () => {
  await refused('GET http://api.openai.com/v1/../admin HTTP/1.1\r\nHost: api.openai.com\r\n\r\n', 400, 'BAD_TARGET');
});

test('encoded dot-segments: /v1/%2e%2e/admin is refused', async () => {
  await refused('GET http://api.openai.com/v1/%2e%2e/admin HTTP/1.1\r\nHost: api.openai.com\r\n\r\n', 400, 'BAD_TARGET');
});

test('encoded slash: /v1%2Fadmin is refused', async () => {
  await refused('GET http://api.openai.com/v1%2F..%2Fadmin HTTP/1.1\r\nHost: api.openai.com\r\n\r\n', 400, 'BAD_TARGET');
  await refused('GET /openai/v1%2fmodels HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', 400, 'BAD_TARGET');
});

test('double slash in prefix mode: //evil.test/openai/v1 is refused', async () => {
  await refused('GET //evil.test/openai/v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', 400, 'BAD_TARGET');
});

test('Connection: authorization cannot strip the injected credential', async () => {
  await refused(
    'GET http://api.openai.com/v1/models HTTP/1.1\r\nHost: api.openai.com\r\nConnection: authorization\r\n\r\n',
    400,
    'FORBIDDEN_HEADER',
  );
});

test('duplicated Authorization is refused before any vault call', async () => {
  await refused(
    `GET http://api.openai.com/v1/models HTTP/1.1\r\nHost: api.openai.com\r\nAuthorization: Bearer a\r\nauthorization: Bearer ${PLACEHOLDER}\r\n\r\n`,
    400,
    'DUPLICATE_HEADER',
  );
});

test('duplicate Content-Length is refused', async () => {
  await refused(
    'POST http://api.openai.com/v1/chat HTTP/1.1\r\nHost: api.openai.com\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd',
    400,
    '',
  );
  await stillServes();
});

test('Content-Length together with Transfer-Encoding (smuggling) is refused', async () => {
  await refused(
    'POST http://api.openai.com/v1/chat HTTP/1.1\r\nHost: api.openai.com\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    400,
    '',
  );
  await stillServes();
});

test('an upstream 302 to another host goes back to the agent; the credential does not follow', async () => {
  const n = s.echo.requests.length;
  const r = await rawRequest(
    s.proxyPort,
    'GET http://api.openai.com/v1/redirect?to=http://evil.test/steal HTTP/1.1\r\nHost: api.openai.com\r\n\r\n',
  );
  assert.equal(r.status, 302);
  assert.equal(r.headers.location, 'http://evil.test/steal');
  assert.equal(s.echo.requests.length, n + 1, 'only the original request reached an upstream');
  assert.ok(!r.raw.includes(SECRETS.openai));
});

test('X-HTTP-Method-Override is stripped, the method is forwarded as sent', async () => {
  const n = s.echo.requests.length;
  const r = await rawRequest(
    s.proxyPort,
    'GET http://api.openai.com/v1/models HTTP/1.1\r\nHost: api.openai.com\r\nX-HTTP-Method-Override: DELETE\r\nX-Method-Override: DELETE\r\n\r\n',
  );
  assert.equal(r.status, 200);
  const cap = s.echo.requests[n]!;
  assert.equal(cap.method, 'GET');
  assert.equal(cap.headers['x-http-method-override'], undefined);
  assert.equal(cap.headers['x-method-override'], undefined);
});

test('TRACE is never forwarded (it would echo the injected credential)', async () => {
  await refused('TRACE http://api.openai.com/v1/models HTTP/1.1\r\nHost: api.openai.com\r\n\r\n', 403, 'METHOD_DENIED');
});

test('an upstream cannot forge x-sanctum-error', async () => {
  const r = await rawRequest(s.proxyPort, 'GET http://api.openai.com/v1/forge HTTP/1.1\r\nHost: api.openai.com\r\n\r\n');
  assert.equal(r.status, 200);
  assert.equal(r.headers['x-sanctum-error'], undefined);
});

test('unlisted host is denied by default', async () => {
  await refused('GET http://example.test/ HTTP/1.1\r\nHost: example.test\r\n\r\n', 403, 'NO_ROUTE');
});

test('no log line carries a secret', () => {
  for (const l of s.logs) for (const v of Object.values(SECRETS)) assert.ok(!l.includes(v));
});
