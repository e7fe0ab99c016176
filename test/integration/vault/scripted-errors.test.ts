// Every code on the protocol page from a scripted vault, including the ones the dev vault never sends,
// plus the invisible retries: SESSION_EXPIRED (re-auth once) and LEASE_EXPIRED/EXHAUSTED (retry once).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import * as E from '../../../src/vault/errors.js';
import type { VaultClient } from '../../../src/vault/client.js';
import { caught, makeClient, startScriptedServer, type ScriptedServer } from './support.js';

let server: ScriptedServer;
let client: VaultClient;
/** path → what the server answers for it, in order; the last entry repeats. */
const script = new Map<string, Record<string, unknown>[]>();

before(async () => {
  server = await startScriptedServer((req, reply) => {
    const path = String(req.params.path ?? req.params.lease_id);
    const answers = script.get(path) ?? [{ result: { header_name: 'Authorization', header_value: 'Bearer ok' } }];
    reply(answers.length > 1 ? answers.shift()! : answers[0]!);
  });
  ({ client } = makeClient(server.endpoint));
  client.start();
  await client.whenReady(5000);
});
after(async () => {
  await client.close();
  await server.close();
});

const CODES: [string, new (...a: never[]) => E.VaultError][] = [
  ['AUTH_FAILED', E.VaultAuthFailedError],
  ['ACCESS_DENIED', E.VaultAccessDeniedError],
  ['POLICY_DENIED', E.VaultPolicyDeniedError],
  ['SSRF_BLOCKED', E.VaultSsrfBlockedError],
  ['CREDENTIAL_NOT_FOUND', E.VaultCredentialNotFoundError],
  ['NOT_FOUND', E.VaultPathNotFoundError],
  ['VAULT_LOCKED', E.VaultLockedError],
  ['RATE_LIMITED', E.VaultRateLimitedError],
  ['SESSION_EXPIRED', E.VaultSessionExpiredError],
  ['LEASE_EXPIRED', E.VaultLeaseExpiredError],
  ['LEASE_EXHAUSTED', E.VaultLeaseExhaustedError],
  ['SOMETHING_NEW', E.VaultUnknownError],
];

for (const [code, cls] of CODES) {
  test(`${code} surfaces as ${cls.name} with its fields`, async () => {
    const path = `p/${code}`;
    script.set(path, [{ error: { code, message: `vault says ${code}`, detail: 'det', suggestion: 'sug', docs_url: 'https://docs', context: { retry_after: 4 } } }]);
    const e = await caught(client.useHttpHeader(path, { headerType: 'bearer' }));
    assert.ok(e instanceof cls, `${code}: ${String(e)}`);
    assert.equal(e.code, code);
    assert.equal(e.message, `vault says ${code}`);
    assert.equal(e.detail, 'det');
    assert.equal(e.suggestion, 'sug');
    assert.deepEqual(e.context, { retry_after: 4 });
    if (code === 'RATE_LIMITED') assert.equal(e.retryAfter, 4);
  });
}

test('a legacy string error is UNKNOWN', async () => {
  script.set('p/legacy', [{ error: 'Credential not found: p/legacy' }]);
  const e = await caught(client.useHttpHeader('p/legacy', { headerType: 'bearer' }));
  assert.ok(e instanceof E.VaultUnknownError);
  assert.equal((e as E.VaultError).code, 'UNKNOWN');
  assert.equal((e as Error).message, 'Credential not found: p/legacy');
});

test('SESSION_EXPIRED: re-authenticates and retries once, invisibly, with the new session', async () => {
  const before = server.handshakes;
  script.set('p/expire-once', [{ error: { code: 'SESSION_EXPIRED', message: 'gone' } }, { result: { header_name: 'X-K', header_value: 'v2' } }]);
  const h = await client.useHttpHeader('p/expire-once', { headerType: 'bearer' });
  assert.equal(h.headerValue.reveal(), 'v2');
  assert.equal(server.handshakes, before + 1);
  const tries = server.requests.filter((r) => r.params.path === 'p/expire-once');
  assert.equal(tries.length, 2);
  assert.notEqual(tries[0]!.params.session_id, tries[1]!.params.session_id);
  assert.equal(tries[1]!.params.session_id, `s${server.handshakes}`);
});

test('SESSION_EXPIRED twice: surfaces after one retry', async () => {
  script.set('p/expire-always', [{ error: { code: 'SESSION_EXPIRED', message: 'gone' } }]);
  const e = await caught(client.useHttpHeader('p/expire-always', { headerType: 'bearer' }));
  assert.ok(e instanceof E.VaultSessionExpiredError);
  assert.equal(server.requests.filter((r) => r.params.path === 'p/expire-always').length, 2);
});

test('concurrent SESSION_EXPIRED answers share one re-authentication', async () => {
  const before = server.handshakes;
  const paths = ['p/c1', 'p/c2', 'p/c3'];
  for (const p of paths) script.set(p, [{ error: { code: 'SESSION_EXPIRED', message: 'gone' } }, { result: { header_name: 'X', header_value: p } }]);
  const out = await Promise.all(paths.map((p) => client.useHttpHeader(p, { headerType: 'bearer' })));
  assert.deepEqual(out.map((h) => h.headerValue.reveal()), paths);
  assert.equal(server.handshakes, before + 1);
});

test('LEASE_EXPIRED from use: one fresh retry succeeds', async () => {
  script.set('p/lease-once', [{ error: { code: 'LEASE_EXPIRED', message: 'lease over' } }, { result: { header_name: 'X', header_value: 'fresh' } }]);
  assert.equal((await client.useHttpHeader('p/lease-once', { headerType: 'bearer' })).headerValue.reveal(), 'fresh');
  assert.equal(server.requests.filter((r) => r.params.path === 'p/lease-once').length, 2);
});

test('LEASE_EXHAUSTED twice: surfaces after one retry', async () => {
  script.set('p/lease-always', [{ error: { code: 'LEASE_EXHAUSTED', message: 'no more' } }]);
  assert.ok((await caught(client.useHttpHeader('p/lease-always', { headerType: 'bearer' }))) instanceof E.VaultLeaseExhaustedError);
  assert.equal(server.requests.filter((r) => r.params.path === 'p/lease-always').length, 2);
});

test('the 0.1 http_header shape is accepted', async () => {
  script.set('p/old', [{ result: { header: 'X-API-Key: old-style' } }]);
  const h = await client.useHttpHeader('p/old', { headerType: 'api_key' });
  assert.equal(h.headerName, 'x-api-key');
  assert.equal(h.headerValue.reveal(), 'old-style');
});

test('every call but release_lease carries the session id', async () => {
  script.set('lease-x', [{ result: {} }]);
  await client.releaseLease('lease-x');
  const rel = server.requests.find((r) => r.method === 'release_lease')!;
  assert.deepEqual(rel.params, { lease_id: 'lease-x' });
  const use = server.requests.find((r) => r.method === 'use')!;
  assert.match(String(use.params.session_id), /^s\d+$/);
});
