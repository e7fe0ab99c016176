/**
 * Fault: the vault answers slowly (issue 8, I11, I15). With `vault.timeout: 1s` and a
 * vault that answers after 1.5 s, agents get 504 VAULT_TIMEOUT and nothing is sent
 * upstream. The number of calls waiting at the vault stays bounded: a frame-counting
 * relay between the sidecar and the vault sees every call that has not been answered.
 *
 * The bounds that exist: single-flight per credential (concurrent misses share one
 * call) and the per-call timeout, so with D = 1.5 s of delay and T = 1 s of timeout at
 * most ceil(D/T) + 1 = 3 calls per credential are ever outstanding, whatever the load.
 * Delegate routes cannot share calls (each request is its own HTTP request made by the
 * vault); for them the test records the figure (see the diagnostic) rather than assert
 * a bound the sidecar does not have.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request } from 'undici';
import { SECRETS } from '../helpers/stack.js';
import { pollUntil, startRig, type Rig, openaiPrefixRoutes } from '../helpers/sidecar-rig.js';

const DELAY_MS = 1500;
const TIMEOUT_MS = 1000;
const PER_CREDENTIAL_BOUND = Math.ceil(DELAY_MS / TIMEOUT_MS) + 1;

let rig: Rig;
let agent: Agent;
before(async () => {
  rig = await startRig({
    upstreams: ['openai', 'anthropic', 'payments'],
    relay: true,
    vaultTimeout: `${TIMEOUT_MS}ms`,
    credentials: { 'openai/api-key': SECRETS.openai, 'anthropic/api-key': SECRETS.anthropic, 'payments/key': SECRETS.github },
    routes: (u) =>
      openaiPrefixRoutes(
        u,
        `  - name: anthropic
    prefix: /anthropic
    upstream: ${u.anthropic!.origin}
    allow_plaintext: true
    credential: anthropic/api-key
    inject: { header_type: custom, header_name: x-api-key }
  - name: payments
    prefix: /payments
    upstream: ${u.payments!.origin}
    allow_plaintext: true
    credential: payments/key
    mode: delegate
`,
      ),
  });
  agent = new Agent({ connections: 128, headersTimeout: 10_000, bodyTimeout: 10_000 });
});
after(async () => {
  await agent.close();
  await rig.close();
});

async function get(path: string): Promise<{ status: number; code: string | undefined }> {
  const r = await request(`http://127.0.0.1:${rig.proxyPort}${path}`, { dispatcher: agent, headers: { 'content-type': 'text/plain' } });
  const body = await r.body.text();
  for (const v of Object.values(SECRETS)) assert.ok(!body.includes(v), 'a credential came back to the agent');
  return { status: r.statusCode, code: r.headers['x-sanctum-error'] as string | undefined };
}

async function settle(): Promise<void> {
  rig.vault!.dev!.setDelay(0);
  // Late answers arrive and the relay sees every call answered (bounded wait).
  assert.ok((await pollUntil(() => rig.relay!.outstanding() === 0, 50, 100)) >= 0, 'calls still outstanding at the vault');
}

test(`a slow vault gives 504 VAULT_TIMEOUT, nothing is forwarded, and waiting calls stay within single-flight x timeout (<= ${PER_CREDENTIAL_BOUND} per credential) under sustained load`, async (t) => {
  rig.vault!.dev!.setDelay(DELAY_MS);
  rig.relay!.resetMax();
  const results: Array<Promise<{ status: number; code: string | undefined }>> = [];
  try {
    // 6 waves of 12 requests, 250 ms apart: 72 agent requests over 1.5 s on two credentials,
    // so calls time out and new ones start while late answers are still pending at the vault.
    for (let wave = 0; wave < 6; wave++) {
      for (let i = 0; i < 12; i++) results.push(get(i % 2 === 0 ? `/openai/v1/w${wave}` : `/anthropic/v1/w${wave}`));
      await new Promise((r) => setTimeout(r, 250));
    }
    const answers = await Promise.all(results);
    const max = rig.relay!.maxOutstanding();
    t.diagnostic(`72 agent requests on 2 credentials: at most ${max} vault calls outstanding at once`);
    for (const a of answers) assert.deepEqual(a, { status: 504, code: 'VAULT_TIMEOUT' });
    assert.ok(rig.relay!.calls() >= 2, 'the vault was asked');
    assert.ok(max <= 2 * PER_CREDENTIAL_BOUND, `${max} vault calls were outstanding at once (bound ${2 * PER_CREDENTIAL_BOUND})`);
    assert.equal(rig.ups.openai!.requests.length + rig.ups.anthropic!.requests.length, 0, 'nothing was forwarded');
  } finally {
    await settle();
  }
  assert.equal((await get('/openai/v1/after')).status, 200, 'serves again once the vault is fast');
});

test('delegate routes under a slow vault: 504, and the number of outstanding calls is recorded', async (t) => {
  rig.vault!.dev!.setDelay(DELAY_MS);
  rig.relay!.resetMax();
  try {
    const answers = await Promise.all(Array.from({ length: 24 }, (_, i) => get(`/payments/charge${i}`)));
    const max = rig.relay!.maxOutstanding();
    t.diagnostic(`24 concurrent delegate requests: ${max} vault calls outstanding at once (no cap below the connection limit)`);
    for (const a of answers) assert.deepEqual(a, { status: 504, code: 'VAULT_TIMEOUT' });
    assert.ok(max <= 24);
  } finally {
    await settle();
  }
});

test('the sidecar holds no vault timers or sockets beyond its one connection after the slow period', async () => {
  // Every agent request above has been answered and every late vault answer has arrived.
  assert.equal(rig.relay!.outstanding(), 0);
  const r = await get('/openai/v1/final');
  assert.equal(r.status, 200);
});
