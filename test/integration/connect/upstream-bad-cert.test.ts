/**
 * The upstream leg of an intercepted request verifies the upstream's certificate like
 * any other request (I7): a certificate for the wrong host, or from a CA the sidecar
 * does not trust, gives 502 UPSTREAM_TLS, and the upstream never receives a request
 * (so the credential never left).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { startStack, type Stack } from '../../helpers/stack.js';
import type { Echo } from '../../helpers/echo.js';
import { ConnectAgent, makePki, startTlsEcho, tlsExtra, type Pki } from './helpers.js';

let pki: Pki;
let wrongHost: Echo;
let untrusted: Echo;
let stack: Stack;

before(async () => {
  pki = await makePki();
  wrongHost = await startTlsEcho(pki, 'wrong.example'); // trusted CA, but names another host
  untrusted = await startTlsEcho(pki, '127.0.0.1', true); // right name, unknown CA
  stack = await startStack({
    extra: tlsExtra(pki),
    routes: `
egress:
  unmatched: deny
routes:
  - name: openai
    match: { host: api.openai.com }
    upstream: https://127.0.0.1:${wrongHost.port}
    credential: openai/api-key
    inject: { header_type: bearer }
  - name: anthropic
    match: { host: api.anthropic.com }
    upstream: https://127.0.0.1:${untrusted.port}
    credential: anthropic/api-key
    inject: { header_type: custom, header_name: x-api-key }
`,
  });
});
after(async () => {
  await stack.close();
  await wrongHost.close();
  await untrusted.close();
});

function get(host: string): Promise<{ status: number; code: string | undefined; body: string }> {
  const agent = new ConnectAgent(stack.proxyPort, pki.caPem);
  return new Promise((resolve, reject) => {
    const req = request({ host, servername: host, port: 443, path: '/v1/models', agent }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => {
        agent.destroy();
        resolve({ status: res.statusCode ?? 0, code: res.headers['x-sanctum-error'] as string | undefined, body });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

test('an upstream certificate for another host: 502 UPSTREAM_TLS, nothing received upstream', async () => {
  const r = await get('api.openai.com');
  assert.equal(r.status, 502);
  assert.equal(r.code, 'UPSTREAM_TLS');
  assert.match(r.body, /credential was not sent/);
  assert.equal(wrongHost.requests.length, 0);
});

test('an upstream certificate from an untrusted CA: 502 UPSTREAM_TLS, nothing received upstream', async () => {
  const r = await get('api.anthropic.com');
  assert.equal(r.status, 502);
  assert.equal(r.code, 'UPSTREAM_TLS');
  assert.equal(untrusted.requests.length, 0);
  const line = stack.requestLines().find((l) => l.form === 'intercept' && l.route === 'anthropic');
  assert.equal(line?.code, 'UPSTREAM_TLS');
});
