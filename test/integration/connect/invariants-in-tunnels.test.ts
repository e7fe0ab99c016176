/**
 * The security invariants hold inside CONNECT tunnels exactly as in the other request
 * forms: the same attack requests, sent as plain HTTP inside `CONNECT host:80` and as
 * decrypted HTTP inside an intercepted `CONNECT host:443`, are refused with the same
 * codes, nothing reaches the upstream, and the credential never comes back.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect as tlsConnect } from 'node:tls';
import { startStack, SECRETS, PLACEHOLDER, type Stack } from '../../helpers/stack.js';
import type { Echo } from '../../helpers/echo.js';
import { parseRaw } from '../../helpers/raw.js';
import { connectRoutes, makePki, openTunnel, readAll, startTlsEcho, tlsExtra, type Pki } from './helpers.js';

let pki: Pki;
let tlsEcho: Echo;
let stack: Stack;

before(async () => {
  pki = await makePki();
  tlsEcho = await startTlsEcho(pki);
  stack = await startStack({ routes: connectRoutes({ tlsEchoPort: tlsEcho.port }), extra: tlsExtra(pki) });
});
after(async () => {
  await stack.close();
  await tlsEcho.close();
});

type Mode = 'plain' | 'intercept';
const HOST: Record<Mode, string> = { plain: 'api.github.com', intercept: 'api.openai.com' };

/** Send `request` inside a fresh tunnel of the given mode; return the parsed answer. */
async function inTunnel(mode: Mode, request: string): Promise<ReturnType<typeof parseRaw>> {
  const host = HOST[mode];
  const t = await openTunnel(stack.proxyPort, `${host}:${mode === 'plain' ? 80 : 443}`);
  assert.equal(t.status, 200);
  if (mode === 'plain') {
    t.socket.write(request);
    return parseRaw(await readAll(t.socket, 1500));
  }
  const tls = tlsConnect({ socket: t.socket, servername: host, ca: pki.caPem });
  await new Promise<void>((resolve, reject) => {
    tls.once('secureConnect', () => resolve());
    tls.once('error', reject);
  });
  tls.write(request);
  return parseRaw(await readAll(tls, 1500));
}

const upstreamCount = (): number => stack.echo.requests.length + tlsEcho.requests.length;

const CASES: Array<{ name: string; req: (h: string) => string; status: number; code: string }> = [
  { name: 'dot-segments', req: (h) => `GET /v1/../admin HTTP/1.1\r\nHost: ${h}\r\nConnection: close\r\n\r\n`, status: 400, code: 'BAD_TARGET' },
  { name: 'encoded dot-segments', req: (h) => `GET /v1/%2e%2e/admin HTTP/1.1\r\nHost: ${h}\r\nConnection: close\r\n\r\n`, status: 400, code: 'BAD_TARGET' },
  { name: 'encoded slash', req: (h) => `GET /v1%2F..%2Fadmin HTTP/1.1\r\nHost: ${h}\r\nConnection: close\r\n\r\n`, status: 400, code: 'BAD_TARGET' },
  { name: 'double slash', req: (h) => `GET //evil.test/v1/x HTTP/1.1\r\nHost: ${h}\r\nConnection: close\r\n\r\n`, status: 400, code: 'BAD_TARGET' },
  { name: 'Host names another host', req: () => `GET /v1/x HTTP/1.1\r\nHost: evil.test\r\nConnection: close\r\n\r\n`, status: 400, code: 'HOST_MISMATCH' },
  { name: 'absolute-form naming another host', req: () => `GET http://evil.test/v1/x HTTP/1.1\r\nHost: evil.test\r\nConnection: close\r\n\r\n`, status: 400, code: 'HOST_MISMATCH' },
  { name: 'no Host', req: () => `GET /v1/x HTTP/1.0\r\n\r\n`, status: 400, code: 'BAD_TARGET' },
  { name: 'duplicated Authorization', req: (h) => `GET /v1/x HTTP/1.1\r\nHost: ${h}\r\nAuthorization: a\r\nAuthorization: b\r\nConnection: close\r\n\r\n`, status: 400, code: 'DUPLICATE_HEADER' },
  { name: 'Connection: authorization', req: (h) => `GET /v1/x HTTP/1.1\r\nHost: ${h}\r\nConnection: close, authorization\r\n\r\n`, status: 400, code: 'FORBIDDEN_HEADER' },
  { name: 'CL + TE smuggling', req: (h) => `POST /v1/x HTTP/1.1\r\nHost: ${h}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, status: 400, code: 'BAD_REQUEST' },
  { name: 'TRACE reflection', req: (h) => `TRACE /v1/x HTTP/1.1\r\nHost: ${h}\r\nConnection: close\r\n\r\n`, status: 403, code: 'METHOD_DENIED' },
];

for (const mode of ['plain', 'intercept'] as const) {
  for (const c of CASES) {
    test(`${mode} tunnel: ${c.name} is refused (${c.status} ${c.code}) and nothing reaches the upstream`, async () => {
      const n = upstreamCount();
      const r = await inTunnel(mode, c.req(HOST[mode]));
      assert.equal(r.status, c.status, r.raw.slice(0, 300));
      assert.equal(r.headers['x-sanctum-error'], c.code);
      assert.equal(upstreamCount(), n);
      assert.ok(!r.raw.includes(SECRETS.openai) && !r.raw.includes(SECRETS.github));
    });
  }

  test(`${mode} tunnel: every credential-bearing header the agent sent is replaced by exactly one injected header`, async () => {
    const h = HOST[mode];
    const r = await inTunnel(
      mode,
      `GET /v1/ok HTTP/1.1\r\nHost: ${h}\r\nAuthorization: Bearer ${PLACEHOLDER}\r\nX-Api-Key: ${PLACEHOLDER}\r\nProxy-Authorization: Basic eA==\r\nConnection: close\r\n\r\n`,
    );
    assert.equal(r.status, 200, r.raw.slice(0, 300));
    // What the upstream received (its echoed copy is masked by the response guard).
    const seen = (mode === 'plain' ? stack.echo : tlsEcho).requests.at(-1)!;
    assert.equal(seen.headers.authorization, `Bearer ${mode === 'plain' ? SECRETS.github : SECRETS.openai}`);
    assert.equal(seen.headers['x-api-key'], undefined);
    assert.equal(seen.headers['proxy-authorization'], undefined);
    assert.ok(!r.body.includes(PLACEHOLDER));
  });
}
