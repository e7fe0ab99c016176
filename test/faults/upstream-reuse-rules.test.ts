/**
 * Issue 18, the rules of a retry, each against a raw upstream whose behaviour the test
 * sets per request (closing-upstream's policy). A request's index on its connection
 * tells a reused connection (index ≥ 1) from a fresh one (index 0); each test uses its
 * own route so its pool holds only its own connections.
 *
 * - a POST that reached the upstream (read whole, then a reset with no answer) is a 502
 *   and the upstream saw it once;
 * - a failure on a fresh connection is not retried;
 * - a retry that fails too is not retried again;
 * - a small body still arriving when the connection fails is retried once it is whole;
 * - an agent that goes away while its retry waits for the answer cancels the retry upstream;
 * - passthrough (absolute-form to an `egress.allow` host) retries like a route;
 * - the answer of a retry passes through the response guard like any other.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, ProxyAgent, request } from 'undici';
import { SECRETS } from '../helpers/stack.js';
import { pollUntil, startRig, type Rig } from '../helpers/sidecar-rig.js';
import { startClosingUpstream, type ClosingUpstream } from '../helpers/closing-upstream.js';
import { converse } from '../helpers/wire.js';

let up: ClosingUpstream;
let rig: Rig;
let agent: Agent;
let proxy: ProxyAgent;

const ROUTES = ['reached', 'fresh', 'twice', 'pending', 'abort', 'guarded'];

before(async () => {
  up = await startClosingUpstream();
  rig = await startRig({
    upstreams: [],
    credentials: { 'up/key': SECRETS.openai },
    routes: () => `
egress:
  block_private_addresses: false
  allow: ["127.0.0.1:${up.port}"]
routes:
${ROUTES.map(
  (r) => `  - name: ${r}
    prefix: /${r}
    upstream: http://127.0.0.1:${up.port}
    allow_plaintext: true
    credential: up/key
`,
).join('')}`,
  });
  agent = new Agent();
  proxy = new ProxyAgent({ uri: `http://127.0.0.1:${rig.proxyPort}`, proxyTunnel: false });
});
after(async () => {
  await agent.close();
  await proxy.close();
  await rig.close();
  await up.close();
});

let seq = 0;
interface Answer {
  readonly id: string;
  readonly status: number;
  readonly code: string | undefined;
  readonly message: string;
  readonly text: string;
}

async function call(method: string, url: string, opts: { body?: string; via?: 'prefix' | 'proxy' } = {}): Promise<Answer> {
  const id = `${method}-${++seq}`;
  const r = await request(opts.via === 'proxy' ? url : `http://127.0.0.1:${rig.proxyPort}${url}`, {
    dispatcher: opts.via === 'proxy' ? proxy : agent,
    method: method as 'GET',
    headers: { 'x-req': id, ...(opts.body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(opts.body === undefined ? {} : { body: opts.body }),
  });
  const text = await r.body.text();
  const code = r.headers['x-sanctum-error'];
  const message = r.statusCode >= 500 ? (JSON.parse(text) as { error: { message: string } }).error.message : '';
  return { id, status: r.statusCode, code: typeof code === 'string' ? code : undefined, message, text };
}

const seenOf = (id: string) => up.seen.filter((s) => s.headers['x-req'] === id);

async function retries(route: string): Promise<number> {
  const m = await rig.sidecar.metrics.upstreamRetries.get();
  return m.values.filter((v) => v.labels.route === route).reduce((n, v) => n + v.value, 0);
}

function lineFor(route: string, method: string): Record<string, unknown> {
  const lines = rig.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'request' && l.route === route && l.method === method);
  return lines.at(-1)!;
}

test('a POST that reached the upstream, which then reset without answering: 502 UPSTREAM_ERROR, seen once', async () => {
  up.policy = (r) => (r.index === 0 ? 'answer' : 'read-reset');
  const warm = await call('GET', '/reached/v1/warm');
  assert.equal(warm.status, 200);
  const r = await call('POST', '/reached/v1/charges', { body: '{"amount":100}' });
  assert.equal(r.status, 502);
  assert.equal(r.code, 'UPSTREAM_ERROR');
  const seen = seenOf(r.id);
  assert.equal(seen.length, 1, 'the upstream saw the POST once, not twice');
  assert.equal(seen[0]!.index, 1, 'it went out on the reused connection');
  assert.equal(seen[0]!.body, '{"amount":100}');
  assert.equal(up.handled.get(r.id), 1);
  assert.equal(await retries('reached'), 0);
  assert.equal(lineFor('reached', 'POST').retried, null);
});

test('a request failing on a fresh connection is not retried', async () => {
  up.policy = () => 'drop';
  const before = up.connections;
  const r = await call('GET', '/fresh/v1/items');
  assert.equal(r.status, 502);
  assert.equal(r.code, 'UPSTREAM_ERROR');
  const seen = seenOf(r.id);
  assert.equal(seen.length, 1);
  assert.equal(seen[0]!.index, 0, 'the failed attempt was the first request of its connection');
  assert.equal(up.connections - before, 1, 'no second connection was opened');
  assert.equal(await retries('fresh'), 0);
});

test('a retry that fails too is not retried again: one retry, then 502', async () => {
  up.policy = () => 'answer';
  assert.equal((await call('GET', '/twice/v1/warm')).status, 200);
  up.policy = () => 'drop';
  const before = up.connections;
  const r = await call('GET', '/twice/v1/items');
  assert.equal(r.status, 502);
  assert.equal(r.code, 'UPSTREAM_ERROR');
  assert.match(r.message, /failed again after one retry/);
  const seen = seenOf(r.id);
  assert.deepEqual(
    seen.map((s) => s.index),
    [1, 0],
    'first on the reused connection, then once on a fresh one',
  );
  assert.equal(up.connections - before, 1, 'exactly one fresh connection');
  assert.equal(await retries('twice'), 1);
  const line = lineFor('twice', 'GET');
  assert.equal(line.retried, 'idempotent');
  assert.equal(line.status, 502);
  assert.equal(line.code, 'UPSTREAM_ERROR');
});

test('passthrough: a GET lost on a reused connection is retried on a fresh one, without any credential', async () => {
  up.policy = (r) => (r.index === 0 ? 'answer' : 'drop');
  const target = `http://127.0.0.1:${up.port}/pass/items`;
  assert.equal((await call('GET', target, { via: 'proxy' })).status, 200);
  const before = await retries('none');
  const r = await call('GET', target, { via: 'proxy' });
  assert.equal(r.status, 200);
  assert.deepEqual(
    seenOf(r.id).map((s) => s.index),
    [1, 0],
  );
  assert.equal(up.handled.get(r.id), 1);
  assert.ok(seenOf(r.id).every((s) => s.headers.authorization === undefined), 'passthrough never carries a credential');
  assert.equal((await retries('none')) - before, 1);
  const line = rig.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'request' && l.outcome === 'passthrough').at(-1)!;
  assert.equal(line.retried, 'idempotent');
});

test('a small body still arriving when the reused connection fails is sent whole on the fresh one', async () => {
  up.policy = () => 'answer';
  assert.equal((await call('GET', '/pending/v1/warm')).status, 200);
  up.policy = (r) => (r.index === 0 ? 'answer' : 'drop-at-head');
  const half = 'a'.repeat(500);
  const head = `PUT /pending/v1/doc HTTP/1.1\r\nHost: 127.0.0.1\r\nx-req: pending-put\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n`;
  const c = await converse(rig.proxyPort, [head + half, { pause: 150 }, half.replace(/a/g, 'b')], { quietMs: 2000, maxMs: 8000 });
  assert.equal(c.responses[0]?.status, 200);
  const seen = seenOf('pending-put');
  assert.deepEqual(
    seen.map((s) => s.index),
    [1, 0],
  );
  assert.equal(seen[1]!.body, half + half.replace(/a/g, 'b'), 'the fresh connection got the whole body, once');
  assert.equal(up.handled.get('pending-put'), 1);
  assert.equal(lineFor('pending', 'PUT').retried, 'idempotent');
});

test('an agent that goes away while its retry waits for the answer cancels the retry upstream', async () => {
  up.policy = () => 'answer';
  assert.equal((await call('GET', '/abort/v1/warm')).status, 200);
  // The reused connection loses the request; the retry's fresh connection never answers.
  up.policy = (r) => (r.index === 0 ? 'ignore' : 'drop');
  const openBefore = up.open;
  const c = converse(rig.proxyPort, ['GET /abort/v1/slow HTTP/1.1\r\nHost: 127.0.0.1\r\nx-req: abort-me\r\n\r\n', { until: () => seenOf('abort-me').length === 2, timeoutMs: 5000 }], {
    quietMs: 0,
    maxMs: 6000,
  });
  const conv = await c;
  assert.equal(conv.responses.length, 0, 'no answer yet: the retry is waiting');
  assert.deepEqual(
    seenOf('abort-me').map((s) => s.index),
    [1, 0],
  );
  // converse closed the agent's connection; the retry's upstream connection must close too.
  const closed = await pollUntil(() => up.open <= openBefore - 1, 20, 200);
  assert.ok(closed >= 0, `the retry's upstream connection was left open (${up.open} open, ${openBefore} before)`);
  assert.equal(lineFor('abort', 'GET').retried, 'idempotent');
});

test('the answer of a retry passes through the response guard: a reflected credential is masked', async () => {
  up.policy = () => 'answer';
  assert.equal((await call('GET', '/guarded/v1/warm')).status, 200);
  up.policy = (r) => (r.index === 0 ? 'answer' : 'drop');
  up.reflect = true;
  try {
    const r = await call('GET', '/guarded/v1/me');
    assert.equal(r.status, 200);
    assert.deepEqual(
      seenOf(r.id).map((s) => s.index),
      [1, 0],
      'lost on the reused connection, answered on a fresh one',
    );
    assert.ok(seenOf(r.id).every((s) => s.headers.authorization === `Bearer ${SECRETS.openai}`), 'both attempts carried the credential');
    assert.ok(!r.text.includes(SECRETS.openai), 'the reflected credential never reaches the agent');
    const reflected = (JSON.parse(r.text) as { authorization: string }).authorization;
    assert.notEqual(reflected, `Bearer ${SECRETS.openai}`);
    assert.match(reflected, /^Bearer /);
    const line = lineFor('guarded', 'GET');
    assert.equal(line.retried, 'idempotent');
    assert.equal(line.guard, 'masked');
  } finally {
    up.reflect = false;
  }
});
