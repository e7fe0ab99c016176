/**
 * Issue 18 inside interception: an agent's https request, intercepted through CONNECT,
 * goes upstream over the route's TLS pool like any other request, so a request lost on a
 * reused TLS connection (the upstream closes it without answering) is sent once more on a
 * fresh, verified TLS connection with the same credential. A byte tunnel is not involved.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { SECRETS, startStack, type Stack } from '../../helpers/stack.js';
import { startClosingUpstream, type ClosingUpstream } from '../../helpers/closing-upstream.js';
import { ConnectAgent, connectRoutes, makePki, tlsExtra, type Pki } from './helpers.js';

let pki: Pki;
let up: ClosingUpstream;
let stack: Stack;

before(async () => {
  pki = await makePki();
  up = await startClosingUpstream({ tls: pki.leaf('127.0.0.1'), policy: (r) => (r.index === 0 ? 'answer' : 'drop') });
  stack = await startStack({ routes: connectRoutes({ tlsEchoPort: up.port }), extra: tlsExtra(pki) });
});
after(async () => {
  await stack.close();
  await up.close();
});

function get(id: string): Promise<{ status: number; body: string }> {
  const agent = new ConnectAgent(stack.proxyPort, pki.caPem);
  return new Promise((resolve, reject) => {
    const req = request({ host: 'api.openai.com', servername: 'api.openai.com', port: 443, path: '/v1/models', agent, headers: { 'x-req': id } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        agent.destroy();
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

test('intercepted https: a GET lost on a reused upstream TLS connection is retried on a fresh one', async () => {
  const first = await get('tls-1');
  assert.equal(first.status, 200);
  const second = await get('tls-2');
  assert.equal(second.status, 200);
  assert.equal((JSON.parse(second.body) as { req: string }).req, 'tls-2');
  const seen = up.seen.filter((s) => s.headers['x-req'] === 'tls-2');
  assert.deepEqual(
    seen.map((s) => s.index),
    [1, 0],
    'lost on the reused connection, answered on a fresh one',
  );
  assert.ok(seen.every((s) => s.headers.authorization === `Bearer ${SECRETS.openai}`), 'both copies carried the route credential');
  assert.equal(up.handled.get('tls-2'), 1);
  const m = await stack.sidecar.metrics.upstreamRetries.get();
  assert.deepEqual(
    m.values.filter((v) => v.value > 0).map((v) => [v.labels.route, v.labels.reason, v.value]),
    [['openai', 'idempotent', 1]],
  );
  // The other reasons exist at 0 from start-up (metrics/known-series), so increase() sees a first retry.
  assert.ok(m.values.some((v) => v.labels.route === 'openai' && v.labels.reason === 'not_sent' && v.value === 0));
  const line = stack.requestLines().find((l) => l.form === 'intercept' && l.status === 200 && l.retried !== null);
  assert.equal(line?.retried, 'idempotent');
});
