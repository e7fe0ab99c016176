/**
 * Issue 18, avoiding the race rather than retrying it: a pooled connection the upstream
 * has half-closed is dropped, not reused, and an upstream's `Keep-Alive: timeout=` hint
 * is followed (less a 1 s margin, so a 1 s hint means no reuse at all). In both cases the
 * next request goes out on a fresh connection the first time: no failure, no retry.
 *
 * The upstream would lose any request written on a connection it meant to close
 * (`ignore`), so reusing one would show up as a retry here.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { SECRETS } from '../helpers/stack.js';
import { startRig, type Rig } from '../helpers/sidecar-rig.js';
import { startClosingUpstream, type ClosingUpstream } from '../helpers/closing-upstream.js';

let up: ClosingUpstream;
let rig: Rig;
let agent: Agent;

before(async () => {
  up = await startClosingUpstream({ closeAfterMs: 10 });
  rig = await startRig({
    upstreams: [],
    credentials: { 'up/key': SECRETS.openai },
    routes: () => `
egress:
  block_private_addresses: false
routes:
${['halfclose', 'hint', 'nohint']
  .map(
    (r) => `  - name: ${r}
    prefix: /${r}
    upstream: http://127.0.0.1:${up.port}
    allow_plaintext: true
    credential: up/key
`,
  )
  .join('')}`,
  });
  agent = new Agent();
});
after(async () => {
  await agent.close();
  await rig.close();
  await up.close();
});

let seq = 0;
async function get(path: string): Promise<{ id: string; status: number }> {
  const id = `get-${++seq}`;
  const r = await request(`http://127.0.0.1:${rig.proxyPort}${path}`, { dispatcher: agent, headers: { 'x-req': id } });
  await r.body.dump();
  return { id, status: r.statusCode };
}

const indexOf = (id: string): number[] => up.seen.filter((s) => s.headers['x-req'] === id).map((s) => s.index);

async function allRetries(): Promise<number> {
  const m = await rig.sidecar.metrics.upstreamRetries.get();
  return m.values.reduce((n, v) => n + v.value, 0);
}

test('a pooled connection the upstream half-closed is dropped: the next request goes out on a fresh one', async () => {
  up.policy = (r) => (r.index === 0 ? 'answer-then-half-close' : 'ignore');
  const first = await get('/halfclose/a');
  assert.equal(first.status, 200);
  // Let the upstream's FIN arrive while the connection sits idle in the pool.
  await sleep(200);
  const second = await get('/halfclose/b');
  assert.equal(second.status, 200);
  assert.deepEqual(indexOf(second.id), [0], 'written once, as the first request of a new connection');
  assert.equal(await allRetries(), 0);
});

test('Keep-Alive: timeout=1 is honoured: the connection is not kept for reuse', async () => {
  up.policy = (r) => (r.index === 0 ? 'answer' : 'ignore');
  up.keepAliveHint = 'timeout=1';
  try {
    const a = await get('/hint/a');
    const b = await get('/hint/b');
    assert.equal(a.status, 200);
    assert.equal(b.status, 200);
    assert.deepEqual(indexOf(b.id), [0], 'the second request opened a new connection');
  } finally {
    up.keepAliveHint = null;
  }
  assert.equal(await allRetries(), 0);
});

test('without a hint the same upstream connection is reused (the control for the test above)', async () => {
  up.policy = () => 'answer';
  const a = await get('/nohint/a');
  const b = await get('/nohint/b');
  assert.equal(a.status, 200);
  assert.equal(b.status, 200);
  assert.deepEqual(indexOf(b.id), [1], 'the second request reused the connection');
});
