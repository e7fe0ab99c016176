/**
 * Fault: the vault is killed and restarted while agents keep sending (issue 8, I11).
 * Three rounds of: load running → vault stopped (1 s, 1 s, then 5 s: long enough for the
 * reconnect backoff to reach its cap) → readiness must turn not-ready and every request
 * fail closed (503/504, nothing forwarded) → vault started again on the same port with
 * the same agent key → the service must answer a good request within 2 s (a bounded
 * polling loop, 40 tries 50 ms apart). Over the whole run, every request
 * an upstream received carried exactly its own route's credential, and the number of
 * requests the upstreams received equals the number of 200s the agents got.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request } from 'undici';
import { SECRETS } from '../helpers/stack.js';
import { misroutedSecrets } from '../helpers/capture-upstream.js';
import { pollUntil, startRig, type Rig } from '../helpers/sidecar-rig.js';
import { assertOneCredential } from '../security/hostile-harness.js';

let rig: Rig;
let agent: Agent;
before(async () => {
  rig = await startRig({
    upstreams: ['openai', 'anthropic'],
    credentials: { 'openai/api-key': SECRETS.openai, 'anthropic/api-key': SECRETS.anthropic },
    routes: (u) => `
egress:
  block_private_addresses: false
routes:
  - name: openai
    prefix: /openai
    upstream: ${u.openai!.origin}
    allow_plaintext: true
    credential: openai/api-key
    inject: { header_type: bearer }
  - name: anthropic
    prefix: /anthropic
    upstream: ${u.anthropic!.origin}
    allow_plaintext: true
    credential: anthropic/api-key
    inject: { header_type: custom, header_name: x-api-key }
`,
  });
  agent = new Agent({ connections: 16, headersTimeout: 5000, bodyTimeout: 5000 });
});
after(async () => {
  await agent.close();
  await rig.close();
});

interface Tally {
  statuses: Record<string, number>;
  ok: number;
}

async function send(path: string, tally: Tally): Promise<number> {
  const r = await request(`http://127.0.0.1:${rig.proxyPort}${path}`, { dispatcher: agent });
  const body = await r.body.text();
  for (const v of Object.values(SECRETS)) assert.ok(!body.includes(v), 'a credential came back to the agent');
  const key = `${r.statusCode} ${(r.headers['x-sanctum-error'] as string | undefined) ?? ''}`.trim();
  tally.statuses[key] = (tally.statuses[key] ?? 0) + 1;
  if (r.statusCode === 200) tally.ok++;
  return r.statusCode;
}

async function readyz(): Promise<number> {
  const r = await request(`${rig.adminUrl}/readyz`, { dispatcher: agent });
  await r.body.text();
  return r.statusCode;
}

test('vault killed and restarted under load: fails closed, goes not-ready, recovers within 2 s', async (t) => {
  const tally: Tally = { statuses: {}, ok: 0 };
  let stop = false;
  const worker = async (i: number): Promise<void> => {
    for (let n = 0; !stop && n < 100_000; n++) {
      await send(n % 2 === i % 2 ? '/openai/v1/load' : '/anthropic/v1/load', tally);
    }
  };
  const workers = [0, 1, 2, 3].map(worker);
  const rounds: Array<{ outageMs: number; notReadyAfterTries: number; recoveredAfterTries: number; clientStateIfNot?: string }> = [];
  try {
    for (const [round, outageMs] of [1000, 1000, 5000].entries()) {
      const okBefore = tally.ok;
      assert.ok((await pollUntil(() => tally.ok >= okBefore + 20, 25, 400)) >= 0, 'the load is being served before the vault goes away');
      await rig.vault!.stop();
      const notReadyAfterTries = await pollUntil(async () => (await readyz()) === 503, 50, 40);
      // Keep the load running against the dead vault for a while (the client backs off meanwhile).
      await new Promise((r) => setTimeout(r, outageMs));
      await rig.vault!.start();
      const recoveredAfterTries = await pollUntil(async () => (await send('/openai/v1/probe', tally)) === 200, 50, 40);
      const st = rig.sidecar.vault.state;
      rounds.push({ outageMs, notReadyAfterTries, recoveredAfterTries, ...(recoveredAfterTries < 0 ? { clientStateIfNot: `${st.status}: ${st.reason ?? ''}` } : {}) });
    }
  } finally {
    stop = true;
    await Promise.all(workers);
  }
  t.diagnostic(`rounds: ${JSON.stringify(rounds)}; statuses: ${JSON.stringify(tally.statuses)}`);

  // Fail closed: only successes and the catalogued vault failures.
  for (const k of Object.keys(tally.statuses)) {
    assert.ok(['200', '503 VAULT_UNAVAILABLE', '504 VAULT_TIMEOUT'].includes(k), `unexpected answer during vault restarts: ${k}`);
  }
  // Nothing forwarded without its credential: every upstream request has exactly its own,
  // and the upstreams saw exactly as many requests as the agents got 200s.
  const A = rig.ups.openai!;
  const B = rig.ups.anthropic!;
  for (const r of A.requests) assertOneCredential('openai', r, 'vault restart');
  for (const r of B.requests) assertOneCredential('anthropic', r, 'vault restart');
  assert.equal(A.requests.length + B.requests.length, tally.ok, 'upstream requests == 200 answers');
  assert.deepEqual(misroutedSecrets(rig.all, { openai: SECRETS.openai, anthropic: SECRETS.anthropic }, { openai: ['openai'], anthropic: ['anthropic'] }), []);

  for (const [i, r] of rounds.entries()) {
    assert.ok(r.notReadyAfterTries >= 0, `round ${i + 1}: /readyz never went 503 while the vault was down`);
    assert.ok(
      r.recoveredAfterTries >= 0,
      `round ${i + 1} (vault down ${r.outageMs} ms): no good answer within 2 s (40 polls, 50 ms apart) of the vault returning; the vault client was "${r.clientStateIfNot}"`,
    );
  }
  assert.ok((await pollUntil(async () => (await readyz()) === 200, 50, 100)) >= 0, '/readyz is ready again');
  for (const l of rig.logs) for (const v of Object.values(SECRETS)) assert.ok(!l.includes(v), 'a log line carries a secret');
});
