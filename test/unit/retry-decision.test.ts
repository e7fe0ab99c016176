// The retry rules of issue 18 as a table: proxy/retry decides from what the forward stage
// observed. The integration suites show the same rules against real misbehaving upstreams.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideRetry, noRetryMessage, type FailedAttempt } from '../../src/proxy/retry.js';

const socketError = Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' });
const base: FailedAttempt = {
  method: 'GET',
  headers: ['host', 'api.example.com', 'authorization', 'Bearer x'],
  error: socketError,
  reused: true,
  closedBeforeWrite: false,
  answerStarted: false,
  alreadyRetried: false,
  body: 'none',
  routeOptIn: false,
};

const err = (code: string): Error => Object.assign(new Error(code), { code });

const cases: Array<[string, Partial<FailedAttempt>, string]> = [
  ['GET on a reused connection', {}, 'retry:idempotent'],
  ['HEAD, OPTIONS, DELETE', { method: 'DELETE' }, 'retry:idempotent'],
  ['PUT with a held body', { method: 'PUT', body: 'held' }, 'retry:idempotent'],
  ['PUT whose body is still arriving (retried once whole)', { method: 'PUT', body: 'pending' }, 'retry:idempotent'],
  ['PUT whose body outgrew the buffer', { method: 'PUT', body: 'gone' }, 'no:body_not_held'],
  ['ECONNRESET', { error: err('ECONNRESET') }, 'retry:idempotent'],
  ['a fresh connection', { reused: false }, 'no:fresh_connection'],
  ['after an answer byte', { answerStarted: true }, 'no:answer_started'],
  ['a second failure', { alreadyRetried: true }, 'no:already_retried'],
  ['a headers timeout', { error: err('UND_ERR_HEADERS_TIMEOUT') }, 'no:not_connection_failure'],
  ['a TLS failure', { error: err('ERR_TLS_CERT_ALTNAME_INVALID') }, 'no:not_connection_failure'],
  ['a client abort (no code)', { error: new Error('client aborted') }, 'no:not_connection_failure'],
  ['POST', { method: 'POST', body: 'held' }, 'no:not_idempotent'],
  ['PATCH', { method: 'PATCH', body: 'held' }, 'no:not_idempotent'],
  ['POST with an Idempotency-Key', { method: 'POST', body: 'held', headers: [...base.headers, 'idempotency-key', 'k-1'] }, 'retry:idempotency_key'],
  ['POST with an empty Idempotency-Key', { method: 'POST', body: 'held', headers: [...base.headers, 'idempotency-key', ' '] }, 'no:not_idempotent'],
  ['POST with an Idempotency-Key but a body that was not held', { method: 'POST', body: 'gone', headers: ['idempotency-key', 'k'] }, 'no:body_not_held'],
  ['POST on an opted-in route', { method: 'POST', body: 'held', routeOptIn: true }, 'retry:route_opt_in'],
  ['POST whose write failed (EPIPE)', { method: 'POST', body: 'held', error: err('EPIPE') }, 'retry:not_sent'],
  ['POST on a connection already closed when written', { method: 'POST', body: 'held', closedBeforeWrite: true }, 'retry:not_sent'],
  ['POST whose write failed, on a fresh connection', { method: 'POST', error: err('EPIPE'), reused: false }, 'no:fresh_connection'],
];

for (const [name, over, want] of cases) {
  test(`retry decision: ${name} → ${want}`, () => {
    const d = decideRetry({ ...base, ...over });
    assert.equal(d.retry ? `retry:${d.reason}` : `no:${d.why}`, want);
  });
}

test('the agent is told what would have allowed a retry', () => {
  assert.match(noRetryMessage('not_idempotent', 'POST')!, /POST is not idempotent.*Idempotency-Key.*retry\.non_idempotent/);
  assert.match(noRetryMessage('body_not_held', 'PUT')!, /limits\.retry_buffer/);
  assert.match(noRetryMessage('already_retried', 'GET')!, /after one retry/);
  assert.equal(noRetryMessage('fresh_connection', 'GET'), undefined, 'an ordinary failure keeps the catalogue message');
});
