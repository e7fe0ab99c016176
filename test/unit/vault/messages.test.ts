// Result parsing: both http_header shapes, and shape errors that never contain the value.
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { test } from 'node:test';
import { VaultProtocolError } from '../../../src/vault/errors.js';
import * as m from '../../../src/vault/messages.js';

const SECRET = 'sk-live-abcdef123456';

function protocolError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof VaultProtocolError && pattern.test(e.message) && !e.message.includes(SECRET));
}

test('http_header: 0.4 shape, name lowercased, value a Secret', () => {
  const h = m.parseHttpHeader({ header_name: 'X-API-Key', header_value: SECRET });
  assert.equal(h.headerName, 'x-api-key');
  assert.equal(h.headerValue.reveal(), SECRET);
  assert.ok(!inspect(h).includes(SECRET));
  assert.ok(!JSON.stringify(h).includes(SECRET));
});

test('http_header: 0.1 shape split at the first ": "', () => {
  const h = m.parseHttpHeader({ header: `Authorization: Bearer ${SECRET}: tail` });
  assert.equal(h.headerName, 'authorization');
  assert.equal(h.headerValue.reveal(), `Bearer ${SECRET}: tail`);
});

test('http_header: bad shapes and header injection are refused', () => {
  protocolError(() => m.parseHttpHeader({}), /neither/);
  protocolError(() => m.parseHttpHeader({ header: SECRET }), /Name: value/);
  protocolError(() => m.parseHttpHeader({ header_name: 'Bad Name', header_value: SECRET }), /not a valid header name/);
  protocolError(() => m.parseHttpHeader({ header_name: 'x', header_value: `${SECRET}\r\nX-Evil: 1` }), /CR, LF or NUL/);
  protocolError(() => m.parseHttpHeader('nope'), /not an object/);
});

test('retrieve: hex → Secret; bad hex or bad UTF-8 refused without echo', () => {
  const hex = Buffer.from(SECRET).toString('hex');
  const r = m.parseRetrieve({ value: hex, lease_id: 'l-1', ttl: 60 });
  assert.equal(r.value.reveal(), SECRET);
  assert.equal(r.leaseId, 'l-1');
  assert.equal(r.ttl, 60);
  protocolError(() => m.parseRetrieve({ value: SECRET, lease_id: 'x' }), /not hex/);
  protocolError(() => m.parseRetrieve({ value: 'ff', lease_id: 'x' }), /not UTF-8/);
  protocolError(() => m.parseRetrieve({ value: hex }), /lease_id/);
});

test('http_request, list, sign, encrypt, decrypt, authenticate', () => {
  assert.deepEqual(m.parseHttpRequest({ status: 201, headers: { 'Content-Type': 'text/plain', 'set-cookie': ['a', 'b'] }, body: 'ok' }), {
    status: 201,
    headers: { 'content-type': 'text/plain', 'set-cookie': ['a', 'b'] },
    body: 'ok',
  });
  protocolError(() => m.parseHttpRequest({ status: 'x' }), /status/);
  assert.deepEqual(m.parseList({ credentials: [{ path: 'a', tags: ['t'], type: 'api_key', extra: 1 }, { path: 'b' }] }), [
    { path: 'a', tags: ['t'], type: 'api_key' },
    { path: 'b' },
  ]);
  assert.deepEqual(m.parseList([{ path: 'a' }]), [{ path: 'a' }]);
  protocolError(() => m.parseList({}), /credentials/);
  assert.equal(m.parseSignature({ signature: 'c2ln' }), 'c2ln');
  assert.equal(m.parseCiphertext({ ciphertext: 'Y3Q=' }), 'Y3Q=');
  assert.equal(m.parsePlaintext({ plaintext: 'pt' }), 'pt');
  protocolError(() => m.parseSignature({}), /signature/);
  assert.deepEqual(m.parseAuthenticate({ session_id: 's', challenge: 'abcd' }), { sessionId: 's', challenge: 'abcd' });
  protocolError(() => m.parseAuthenticate({ session_id: 's', challenge: 'xyz' }), /not hex/);
});
