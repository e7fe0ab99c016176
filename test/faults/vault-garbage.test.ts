/**
 * Fault: the vault answers garbage (issue 8, I10, I11). A relay passes the handshake,
 * then replaces the vault's answers with one kind of garbage at a time: frames that
 * are not JSON or not UTF-8, a length beyond the 16 MiB limit, an empty frame, an
 * answer to another id, answers of the wrong shape, a credential header carrying CR/LF,
 * an error that is not an object, a frame cut off by a closed connection.
 *
 * Each must end in its catalogued failure (502 VAULT_PROTOCOL_ERROR / VAULT_ERROR, 503
 * VAULT_UNAVAILABLE, 504 VAULT_TIMEOUT), nothing may be forwarded (in particular no
 * header built from the garbage), no secret may be echoed, the process must not crash,
 * and once the vault speaks properly again the sidecar must serve (after reconnecting).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request } from 'undici';
import { SECRETS } from '../helpers/stack.js';
import { pollUntil, startRig, type Rig, openaiPrefixRoutes } from '../helpers/sidecar-rig.js';
import type { GarbageKind } from '../helpers/vault-relay.js';

/** The answer each kind of garbage must produce. */
const EXPECTED: Record<GarbageKind, { status: number; codes: readonly string[] }> = {
  'not-json': { status: 502, codes: ['VAULT_PROTOCOL_ERROR'] },
  'bad-utf8': { status: 502, codes: ['VAULT_PROTOCOL_ERROR'] },
  'oversized-length': { status: 502, codes: ['VAULT_PROTOCOL_ERROR'] },
  'zero-length': { status: 502, codes: ['VAULT_PROTOCOL_ERROR'] },
  'wrong-id': { status: 504, codes: ['VAULT_TIMEOUT'] },
  'no-result-no-error': { status: 502, codes: ['VAULT_PROTOCOL_ERROR'] },
  'result-not-object': { status: 502, codes: ['VAULT_PROTOCOL_ERROR'] },
  'missing-header-value': { status: 502, codes: ['VAULT_PROTOCOL_ERROR'] },
  'header-value-crlf': { status: 502, codes: ['VAULT_PROTOCOL_ERROR'] },
  'header-name-invalid': { status: 502, codes: ['VAULT_PROTOCOL_ERROR'] },
  'error-not-object': { status: 502, codes: ['VAULT_ERROR', 'VAULT_PROTOCOL_ERROR'] },
  'truncated-then-close': { status: 503, codes: ['VAULT_UNAVAILABLE'] },
};

let rig: Rig;
let agent: Agent;
before(async () => {
  rig = await startRig({
    upstreams: ['openai'],
    relay: true,
    vaultTimeout: '800ms',
    credentials: { 'openai/api-key': SECRETS.openai },
    routes: (u) => openaiPrefixRoutes(u),
  });
  agent = new Agent({ connections: 8, headersTimeout: 5000, bodyTimeout: 5000 });
});
after(async () => {
  await agent.close();
  await rig.close();
});

async function get(path: string): Promise<{ status: number; code: string | undefined; body: string }> {
  const r = await request(`http://127.0.0.1:${rig.proxyPort}${path}`, { dispatcher: agent });
  return { status: r.statusCode, code: r.headers['x-sanctum-error'] as string | undefined, body: await r.body.text() };
}

/** Wait (bounded) until the client has an authenticated connection again. */
async function ready(): Promise<void> {
  assert.ok((await pollUntil(() => rig.sidecar.vault.state.status === 'ready', 50, 160)) >= 0, 'the vault client did not reconnect within 8 s');
}

for (const kind of Object.keys(EXPECTED) as GarbageKind[]) {
  test(`vault garbage "${kind}": catalogued failure, nothing forwarded`, async () => {
    await ready();
    const before = rig.ups.openai!.requests.length;
    rig.relay!.setGarbage(kind);
    let r: Awaited<ReturnType<typeof get>>;
    try {
      r = await get(`/openai/v1/${kind}`);
    } finally {
      rig.relay!.setGarbage(null);
    }
    const want = EXPECTED[kind];
    assert.equal(r.status, want.status, `${kind}: ${r.status} ${r.code}`);
    assert.ok(r.code !== undefined && want.codes.includes(r.code), `${kind}: code ${r.code}`);
    assert.equal(rig.ups.openai!.requests.length, before, `${kind}: something was forwarded`);
    assert.ok(!r.body.includes('sk-wrong-id') && !r.body.includes('Bearer'), `${kind}: vault answer material in the reply`);
    assert.ok(!r.body.includes(SECRETS.openai));
  });
}

test('after the garbage stops the sidecar serves again with the real credential', async () => {
  await ready();
  const r = await get('/openai/v1/recovered');
  assert.equal(r.status, 200);
  const last = rig.ups.openai!.requests.at(-1)!;
  assert.equal(last.headers.authorization, `Bearer ${SECRETS.openai}`);
  assert.equal(rig.ups.openai!.requests.length, 1, 'only the good request was ever forwarded');
  for (const u of rig.all) assert.ok(!u.wireText().includes('X-Injected') && !u.wireText().includes('truncated'));
  for (const l of rig.logs) assert.ok(!l.includes(SECRETS.openai), 'a log line carries the secret');
});
