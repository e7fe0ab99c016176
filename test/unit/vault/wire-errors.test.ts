// Wire error → typed class, for every code on the protocol page, a legacy string and an unknown code.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as E from '../../../src/vault/errors.js';
import { vaultErrorFromWire } from '../../../src/vault/wire-errors.js';

const TABLE: [string, new (...a: never[]) => E.VaultError, (new (...a: never[]) => E.VaultError)?][] = [
  ['AUTH_FAILED', E.VaultAuthFailedError],
  ['ACCESS_DENIED', E.VaultAccessDeniedError, E.VaultDeniedError],
  ['POLICY_DENIED', E.VaultPolicyDeniedError, E.VaultDeniedError],
  ['SSRF_BLOCKED', E.VaultSsrfBlockedError, E.VaultDeniedError],
  ['CREDENTIAL_NOT_FOUND', E.VaultCredentialNotFoundError, E.VaultNotFoundError],
  ['NOT_FOUND', E.VaultPathNotFoundError, E.VaultNotFoundError],
  ['VAULT_LOCKED', E.VaultLockedError],
  ['RATE_LIMITED', E.VaultRateLimitedError],
  ['SESSION_EXPIRED', E.VaultSessionExpiredError],
  ['LEASE_EXPIRED', E.VaultLeaseExpiredError, E.VaultLeaseError],
  ['LEASE_EXHAUSTED', E.VaultLeaseExhaustedError, E.VaultLeaseError],
];

for (const [code, cls, base] of TABLE) {
  test(`${code} becomes ${cls.name}`, () => {
    const e = vaultErrorFromWire({ code, message: `m ${code}`, detail: 'd', suggestion: 's', docs_url: 'u', context: { k: 1 } });
    assert.ok(e instanceof cls);
    if (base) assert.ok(e instanceof base);
    assert.equal(e.code, code);
    assert.equal(e.message, `m ${code}`);
    assert.equal(e.detail, 'd');
    assert.equal(e.suggestion, 's');
    assert.equal(e.docsUrl, 'u');
    assert.deepEqual(e.context, { k: 1 });
    assert.equal(e.name, cls.name);
  });
}

test('RATE_LIMITED carries context.retry_after (number or numeric string)', () => {
  assert.equal(vaultErrorFromWire({ code: 'RATE_LIMITED', message: 'slow', context: { retry_after: 7 } }).retryAfter, 7);
  assert.equal(vaultErrorFromWire({ code: 'RATE_LIMITED', context: { retry_after: '3' } }).retryAfter, 3);
  assert.equal(vaultErrorFromWire({ code: 'RATE_LIMITED' }).retryAfter, undefined);
  assert.equal(vaultErrorFromWire({ code: 'RATE_LIMITED', context: { retry_after: 'soon' } }).retryAfter, undefined);
});

test('a legacy string error is code UNKNOWN with the string as message', () => {
  const e = vaultErrorFromWire('something broke');
  assert.ok(e instanceof E.VaultUnknownError);
  assert.equal(e.code, 'UNKNOWN');
  assert.equal(e.message, 'something broke');
});

test('an unknown code keeps its code in a VaultUnknownError', () => {
  const e = vaultErrorFromWire({ code: 'QUOTA_MELTED', message: 'x' });
  assert.ok(e instanceof E.VaultUnknownError);
  assert.equal(e.code, 'QUOTA_MELTED');
});

test('malformed error values still give a VaultError', () => {
  for (const v of [null, 42, [], {}, { code: 5 }]) {
    const e = vaultErrorFromWire(v);
    assert.ok(e instanceof E.VaultUnknownError);
    assert.equal(e.code, 'UNKNOWN');
  }
});
