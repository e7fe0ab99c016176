/**
 * Interception with Node's own `https` client through a CONNECT agent: the agent's TLS
 * sees a short-lived ECDSA certificate for the requested host signed by the sidecar CA,
 * ALPN http/1.1, and the TLS echo upstream (its own CA, trusted via
 * tls.upstream_ca_file) receives the injected credential and never the placeholder.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { X509Certificate } from 'node:crypto';
import { connect as tlsConnect } from 'node:tls';
import { SECRETS, PLACEHOLDER, type Stack } from '../../helpers/stack.js';
import type { Echo } from '../../helpers/echo.js';
import { ConnectAgent, type InterceptFixture, type Pki, openTunnel, startInterceptFixture, tunnelLines, waitFor } from './helpers.js';

let pki: Pki;
let upstream: Echo;
let stack: Stack;
let fixture: InterceptFixture;

before(async () => {
  fixture = await startInterceptFixture();
  ({ pki, upstream, stack } = fixture);
});
after(() => fixture.close());

function get(agent: ConnectAgent, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: 'api.openai.com', servername: 'api.openai.com', port: 443, path, agent, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('https through CONNECT is intercepted: injected credential upstream, placeholder gone', async () => {
  const agent = new ConnectAgent(stack.proxyPort, pki.caPem);
  const r = await get(agent, '/v1/models', { authorization: `Bearer ${PLACEHOLDER}` });
  assert.equal(r.status, 200);
  const seen = JSON.parse(r.body) as { url: string; headers: Record<string, string> };
  assert.equal(seen.url, '/v1/models');
  // What the upstream received (the echoed copy is masked by the response guard).
  assert.equal(upstream.requests.at(-1)!.headers.authorization, `Bearer ${SECRETS.openai}`);
  assert.equal(seen.headers.authorization, `Bearer ${'*'.repeat(SECRETS.openai.length)}`);
  assert.ok(!r.body.includes(PLACEHOLDER));
  assert.equal(upstream.requests.length, 1);
  assert.ok(!JSON.stringify(upstream.requests[0]!.headers).includes(PLACEHOLDER));
  agent.destroy();
});

test('the agent sees an ECDSA P-256 leaf for the requested host, signed by the sidecar CA, short-lived, ALPN http/1.1', async () => {
  const agent = new ConnectAgent(stack.proxyPort, pki.caPem);
  await get(agent, '/v1/models');
  await get(agent, '/v1/models');
  const ca = new X509Certificate(pki.caPem);
  const [leaf, again] = agent.peerCertificates;
  assert.ok(leaf && again);
  assert.equal(leaf.checkHost('api.openai.com'), 'api.openai.com');
  assert.equal(leaf.subjectAltName, 'DNS:api.openai.com');
  assert.ok(leaf.checkIssued(ca));
  assert.ok(leaf.verify(ca.publicKey));
  assert.equal(leaf.ca, false);
  assert.equal(leaf.publicKey.asymmetricKeyType, 'ec');
  assert.equal(leaf.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  const days = (Date.parse(leaf.validTo) - Date.now()) / 86_400_000;
  assert.ok(days > 6 && days <= 7.01, `leaf validity ${days} days`);
  // Generated once and cached: the second connection presents the same certificate.
  assert.equal(again.fingerprint256, leaf.fingerprint256);
  assert.deepEqual(agent.alpn, ['http/1.1', 'http/1.1']);
  agent.destroy();
});

test('one canonical line per tunnel (decision intercept) and one per request inside it', async () => {
  const before = stack.requestLines().length;
  const agent = new ConnectAgent(stack.proxyPort, pki.caPem);
  await get(agent, '/v1/models');
  agent.destroy();
  await waitFor(() => tunnelLines(stack.requestLines().slice(before), 'api.openai.com').length === 1);
  const lines = stack.requestLines().slice(before);
  const tunnel = tunnelLines(lines, 'api.openai.com')[0]!;
  assert.equal(tunnel.decision, 'intercept');
  assert.equal(tunnel.reason, 'route');
  assert.equal(tunnel.method, 'CONNECT');
  assert.equal(tunnel.port, 443);
  assert.equal(tunnel.status, 200);
  assert.ok((tunnel.bytes_in as number) > 0 && (tunnel.bytes_out as number) > 0);
  const inner = lines.filter((l) => l.form === 'intercept');
  assert.equal(inner.length, 1);
  assert.equal(inner[0]!.route, 'openai');
  assert.equal(inner[0]!.status, 200);
  const metrics = await stack.sidecar.metrics.render();
  assert.match(metrics.body, /sanctum_sidecar_tunnels_total\{outcome="intercept"\} [1-9]/);
});

test('a ClientHello whose SNI names another host is refused (no certificate, logged sni_mismatch)', async () => {
  const before = stack.requestLines().length;
  const t = await openTunnel(stack.proxyPort, 'api.openai.com:443');
  assert.equal(t.status, 200);
  const err = await new Promise<Error>((resolve) => {
    const s = tlsConnect({ socket: t.socket, servername: 'evil.example', ca: pki.caPem });
    s.once('secureConnect', () => resolve(new Error('handshake unexpectedly succeeded')));
    s.once('error', resolve);
  });
  assert.notEqual(err.message, 'handshake unexpectedly succeeded');
  const refused = (): Array<Record<string, unknown>> => tunnelLines(stack.requestLines().slice(before)).filter((l) => l.decision === 'refused');
  await waitFor(() => refused().length === 1);
  const line = refused()[0]!;
  assert.equal(line.code, 'HOST_MISMATCH');
  assert.equal(line.reason, 'sni_mismatch');
  assert.equal(upstream.requests.filter((r) => r.url.includes('evil')).length, 0);
});

test('an inner request whose Host names another host gets 400 HOST_MISMATCH and nothing is sent upstream', async () => {
  const count = upstream.requests.length;
  const agent = new ConnectAgent(stack.proxyPort, pki.caPem);
  const r = await get(agent, '/v1/models', { host: 'evil.example' });
  assert.equal(r.status, 400);
  assert.equal((JSON.parse(r.body) as { error: { code: string } }).error.code, 'HOST_MISMATCH');
  assert.equal(upstream.requests.length, count);
  agent.destroy();
});
