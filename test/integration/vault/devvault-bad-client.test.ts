// A misbehaving client of the dev vault: garbage, unknown methods, bad signatures, replays, calls before
// authenticating. Each gets a clear answer (or its own connection closed) and the vault keeps serving.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { randomBytes } from 'node:crypto';
import { startDevVault } from '../../../src/devvault/server.js';
import { bytesToHex } from '../../../src/vault/hex.js';
import { publicKeyFromSeed, signChallenge } from '../../../src/vault/keys.js';
import { startTestVault, type TestVault } from '../../helpers/devvault.js';
import { openRaw, type RawConnection } from './support.js';

let tv: TestVault;
before(async () => {
  tv = await startTestVault({ credentials: { k: 'sk-raw-secret' } });
});
after(async () => {
  await tv.close();
});

/** Authenticate a raw connection; returns the session id. */
async function login(raw: RawConnection, agent = tv.agent, seed = tv.seed): Promise<string> {
  const a = (await raw.call(1, 'authenticate', { agent_name: agent })).result as { session_id: string; challenge: string };
  const r = await raw.call(2, 'challenge_response', { session_id: a.session_id, signature: signChallenge(seed, a.challenge) });
  assert.deepEqual(r, { id: 2, result: { authenticated: true } });
  return a.session_id;
}

async function stillServing(): Promise<void> {
  const raw = await openRaw(tv.endpoint);
  const sid = await login(raw);
  const r = await raw.call(3, 'use', { session_id: sid, path: 'k', operation: 'http_header', params: { header_type: 'api_key' } });
  assert.deepEqual(r, { id: 3, result: { header_name: 'X-API-Key', header_value: 'sk-raw-secret' } });
  await raw.close();
}

test('garbage bytes close that connection only', async () => {
  const bystander = await openRaw(tv.endpoint);
  const sid = await login(bystander);
  const raw = await openRaw(tv.endpoint);
  raw.sendBytes(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')); // "GET " is a 1.2 GB length: refused
  await raw.closed;
  const raw2 = await openRaw(tv.endpoint);
  raw2.sendBytes(Buffer.from([0, 0, 0, 5, 0x7b, 0xff, 0xfe, 0x00, 0x7d])); // not JSON
  await raw2.closed;
  const raw3 = await openRaw(tv.endpoint);
  raw3.send([1, 2, 3]); // JSON, but not a request
  await raw3.closed;
  // The other connection, and new ones, carry on.
  const r = await bystander.call(9, 'list', { session_id: sid });
  assert.deepEqual(r, { id: 9, result: { credentials: [{ path: 'k' }] } });
  await bystander.close();
  await stillServing();
});

test('an unknown method is an UNKNOWN_METHOD error on an open connection', async () => {
  const raw = await openRaw(tv.endpoint);
  const r = await raw.call(5, 'vault.explode', {});
  assert.equal(r.id, 5);
  assert.equal((r.error as { code: string }).code, 'UNKNOWN_METHOD');
  assert.match((r.error as { message: string }).message, /unknown method "vault\.explode"/);
  const r2 = await raw.call(6, '__proto__', {});
  assert.equal((r2.error as { code: string }).code, 'UNKNOWN_METHOD');
  await raw.close();
});

test('a bad signature is AUTH_FAILED and leaves the connection unauthenticated', async () => {
  const raw = await openRaw(tv.endpoint);
  const a = (await raw.call(1, 'authenticate', { agent_name: tv.agent })).result as { session_id: string; challenge: string };
  const wrongSeed = new Uint8Array(32).fill(9);
  const r = await raw.call(2, 'challenge_response', { session_id: a.session_id, signature: signChallenge(wrongSeed, a.challenge) });
  assert.equal((r.error as { code: string }).code, 'AUTH_FAILED');
  assert.match((r.error as { message: string }).message, /signature does not verify/);
  const r2 = await raw.call(3, 'use', { session_id: a.session_id, path: 'k', operation: 'http_header', params: {} });
  assert.equal((r2.error as { code: string }).code, 'AUTH_FAILED');
  const r3 = await raw.call(4, 'challenge_response', { session_id: a.session_id, signature: 'zz' });
  assert.equal((r3.error as { code: string }).code, 'AUTH_FAILED');
  await raw.close();
});

test('a replayed challenge is refused, on the same connection and on another', async () => {
  const raw = await openRaw(tv.endpoint);
  const a = (await raw.call(1, 'authenticate', { agent_name: tv.agent })).result as { session_id: string; challenge: string };
  const signature = signChallenge(tv.seed, a.challenge);
  assert.deepEqual((await raw.call(2, 'challenge_response', { session_id: a.session_id, signature })).result, { authenticated: true });
  const again = await raw.call(3, 'challenge_response', { session_id: a.session_id, signature });
  assert.match((again.error as { message: string }).message, /unknown or already used challenge/);
  const other = await openRaw(tv.endpoint);
  const elsewhere = await other.call(1, 'challenge_response', { session_id: a.session_id, signature });
  assert.equal((elsewhere.error as { code: string }).code, 'AUTH_FAILED');
  // The session is bound to the first connection: it means nothing on the other one.
  const stolen = await other.call(2, 'use', { session_id: a.session_id, path: 'k', operation: 'http_header', params: {} });
  assert.equal((stolen.error as { code: string }).code, 'AUTH_FAILED');
  await raw.close();
  await other.close();
});

test('an expired challenge is refused', async () => {
  const seed = new Uint8Array(randomBytes(32));
  const v = await startDevVault({
    config: { agents: { a: { public_key: bytesToHex(publicKeyFromSeed(seed)) } } },
    listen: { host: '127.0.0.1', port: 0 },
    challengeTtlMs: 1,
    log: () => undefined,
  });
  try {
    const raw = await openRaw(v.address);
    const a = (await raw.call(1, 'authenticate', { agent_name: 'a' })).result as { session_id: string; challenge: string };
    await new Promise((r) => setTimeout(r, 20)); // outlive the 1 ms challenge
    const r = await raw.call(2, 'challenge_response', { session_id: a.session_id, signature: signChallenge(seed, a.challenge) });
    assert.match((r.error as { message: string }).message, /challenge expired/);
    await raw.close();
  } finally {
    await v.close();
  }
});

test('calls before authenticating are AUTH_FAILED; unregistered agents too', async () => {
  const raw = await openRaw(tv.endpoint);
  for (const [id, method, params] of [
    [1, 'use', { session_id: 'x', path: 'k', operation: 'http_header', params: {} }],
    [2, 'retrieve', { session_id: 'x', path: 'k' }],
    [3, 'list', {}],
    [4, 'release_lease', { lease_id: 'x' }],
    [5, 'authenticate', { agent_name: 'stranger' }],
  ] as const) {
    const r = await raw.call(id, method, params);
    assert.equal((r.error as { code: string }).code, 'AUTH_FAILED', `${method}: ${JSON.stringify(r)}`);
  }
  await raw.close();
});

test('pipelined requests on one raw connection are each answered under their own id', async () => {
  const raw = await openRaw(tv.endpoint);
  const sid = await login(raw);
  for (let i = 10; i < 20; i++) raw.send({ id: i, method: 'use', params: { session_id: sid, path: 'k', operation: 'sign', params: { data: String(i) } } });
  const ids = new Set<number>();
  for (let i = 0; i < 10; i++) ids.add((await raw.next()).id as number);
  assert.deepEqual([...ids].sort((a, b) => a - b), [10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
  await raw.close();
});

test('dialect B (Rust SDK) works on the same vault', async () => {
  const raw = await openRaw(tv.endpoint);
  const c = (await raw.call(1, 'auth.challenge', { agent: tv.agent })).result as { challenge: string };
  const v = (await raw.call(2, 'auth.verify', { agent: tv.agent, signature: signChallenge(tv.seed, c.challenge) })).result as Record<string, unknown>;
  assert.equal(v.authenticated, true);
  assert.equal(typeof v.session_id, 'string');
  const got = (await raw.call(3, 'credential.retrieve', { path: 'k', ttl: 30 })).result as Record<string, unknown>;
  assert.equal(got.path, 'k');
  assert.equal(got.value, Buffer.from('sk-raw-secret').toString('hex'));
  assert.deepEqual((await raw.call(4, 'credential.list', {})).result, [{ path: 'k' }]);
  assert.deepEqual((await raw.call(5, 'credential.use', { path: 'k', operation: 'http_header', params: { header_type: 'bearer' } })).result, {
    success: true,
    output: { header_name: 'Authorization', header_value: 'Bearer sk-raw-secret' },
  });
  assert.deepEqual((await raw.call(6, 'lease.release', { lease_id: got.lease_id })).result, {});
  await raw.close();
});
