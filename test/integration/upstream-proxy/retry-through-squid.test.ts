/**
 * Issue 18 behind issue 17: a retry goes the way its first attempt went. An https route
 * reaches its upstream only through a real squid (the name resolves in squid's hosts
 * file, never on the sidecar's side). The upstream answers the first request of each
 * connection and closes it 20 ms later without saying so, so back-to-back GETs keep
 * landing on a pooled tunnel the upstream is closing.
 *
 * Shows: every GET is answered 200 and handled exactly once; the lost ones are retried
 * (metric and canonical line, `via_proxy: true`); every upstream connection was a CONNECT
 * tunnel through squid (squid's access log and the sidecar's connect counter match the
 * upstream's connection count), so no retry went direct; the upstream saw exactly one
 * credential per request and squid never saw it.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { defaultCredentials, SECRETS, startStack, type Stack } from '../../helpers/stack.js';
import { startSquid, SQUID_MISSING, type Squid } from '../../helpers/squid.js';
import { startClosingUpstream, closesAfterAnswer, type ClosingUpstream } from '../../helpers/closing-upstream.js';
import { makePki, tlsExtra, type Pki } from '../connect/helpers.js';
import { fakeDns, metricValue } from './helpers.js';

const NAME = 'api.closing.test';
const GETS = 60;

let pki: Pki;
let up: ClosingUpstream;
let squid: Squid;
let stack: Stack;

before(async () => {
  if (SQUID_MISSING) return;
  pki = await makePki();
  up = await startClosingUpstream({ policy: closesAfterAnswer, tls: pki.leaf(NAME) });
  squid = await startSquid({ hosts: { [NAME]: '127.0.0.1' } });
  stack = await startStack({
    credentials: defaultCredentials(),
    extra: tlsExtra(pki, false),
    // Nothing resolves on the sidecar's side: a retry sent direct could not reach the upstream.
    resolve: fakeDns({}),
    routes: `
egress:
  unmatched: deny
  upstream_proxy: ${squid.url}
routes:
  - name: closing
    prefix: /closing
    upstream: https://${NAME}:${up.port}
    credential: openai/api-key
    inject: { header_type: bearer }
`,
  });
});

after(async () => {
  if (SQUID_MISSING) return;
  await stack.close();
  await squid.close();
  await up.close();
});

test('back-to-back GETs through squid: all 200, each handled once, retries tunnelled through squid again', { skip: SQUID_MISSING }, async () => {
  const retriesBefore = await metricValue(stack.adminUrl, 'sanctum_sidecar_upstream_retries_total', '{route="closing",reason="idempotent"}');
  for (let i = 0; i < GETS; i++) {
    const id = `get-${i}`;
    const r = await request(`${stack.proxyUrl}/closing/v1/items`, { headers: { 'x-req': id } });
    const text = await r.body.text();
    assert.equal(r.statusCode, 200, `GET ${i}: ${r.statusCode} ${String(r.headers['x-sanctum-error'] ?? '')} ${text.slice(0, 200)}`);
    assert.equal((JSON.parse(text) as { req: string }).req, id, 'the answer belongs to this request');
    assert.equal(up.handled.get(id), 1, `GET ${i} handled exactly once`);
  }
  const retried = (await metricValue(stack.adminUrl, 'sanctum_sidecar_upstream_retries_total', '{route="closing",reason="idempotent"}')) - retriesBefore;
  assert.ok(retried > 0, 'some GETs were written on a tunnel the upstream was closing, and were retried');

  // Every connection the upstream accepted came through a CONNECT tunnel of squid's (squid
  // logs a tunnel when it ends; the upstream closes each connection 20 ms after its answer).
  const tunnels = async (): Promise<Awaited<ReturnType<Squid['entries']>>> =>
    (await squid.entries()).filter((e) => e.method === 'CONNECT' && e.url.startsWith(`${NAME}:`));
  const until = Date.now() + 5000;
  while ((await tunnels()).length < up.connections && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  const connects = await tunnels();
  assert.equal(connects.length, up.connections, 'one squid CONNECT per upstream connection: no attempt went direct');
  assert.ok(connects.every((e) => e.result === 'TCP_TUNNEL/200'), JSON.stringify(connects.map((e) => e.result)));
  assert.equal(await metricValue(stack.adminUrl, 'sanctum_sidecar_upstream_proxy_connects_total', '{result="ok"}'), up.connections);

  // One credential per request at the upstream (inside TLS); squid's log never carries it.
  for (const s of up.seen) assert.equal(s.headers.authorization, `Bearer ${SECRETS.openai}`);
  assert.ok(!(await squid.accessLog()).includes(SECRETS.openai));

  // The canonical lines: all through the proxy, and the retried ones named.
  const lines = stack.requestLines().filter((l) => l.route === 'closing');
  assert.equal(lines.length, GETS);
  assert.ok(lines.every((l) => l.status === 200 && l.via_proxy === true), JSON.stringify(lines.slice(0, 2)));
  assert.equal(lines.filter((l) => l.retried === 'idempotent').length, retried);
});
