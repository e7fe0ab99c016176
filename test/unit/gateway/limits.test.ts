// Rate limits with a controlled clock: token buckets, Retry-After, stream caps, and
// what a reload keeps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RateLimit } from '../../../src/config/types.js';
import { SidecarError } from '../../../src/errors.js';
import { Limiter } from '../../../src/gateway/limits.js';

const perSecond = (requests: number, burst = requests, maxStreams?: number): RateLimit => ({ bucket: { requests, perMs: 1000, burst }, maxStreams });
const streams = (n: number): RateLimit => ({ bucket: undefined, maxStreams: n });

function retryAfter(fn: () => unknown): number | null {
  try {
    fn();
    return null;
  } catch (err) {
    assert.ok(err instanceof SidecarError && err.code === 'RATE_LIMITED' && err.status === 429);
    return err.retryAfter!;
  }
}

test('a bucket starts full, refills continuously, never beyond its burst', () => {
  let now = 0;
  const l = new Limiter(() => now);
  const lim = perSecond(10, 5);
  for (let i = 0; i < 5; i++) assert.equal(retryAfter(() => l.admit('a', lim, 'r', undefined)), null);
  assert.equal(retryAfter(() => l.admit('a', lim, 'r', undefined)), 1);
  now += 100;
  assert.equal(retryAfter(() => l.admit('a', lim, 'r', undefined)), null, 'one token per 100 ms');
  assert.equal(retryAfter(() => l.admit('a', lim, 'r', undefined)), 1);
  now += 60_000;
  let passed = 0;
  for (let i = 0; i < 20; i++) if (retryAfter(() => l.admit('a', lim, 'r', undefined)) === null) passed++;
  assert.equal(passed, 5, 'capped at the burst');
  assert.equal(retryAfter(() => l.admit('b', lim, 'r', undefined)), null, 'another agent has its own bucket');
});

test('Retry-After is the whole seconds until a token, at least 1', () => {
  let now = 0;
  const l = new Limiter(() => now);
  const slow: RateLimit = { bucket: { requests: 2, perMs: 60_000, burst: 1 }, maxStreams: undefined };
  l.admit('a', slow, null, undefined);
  assert.equal(retryAfter(() => l.admit('a', slow, null, undefined)), 30);
  now += 29_500;
  assert.equal(retryAfter(() => l.admit('a', slow, null, undefined)), 1);
});

test('agent and route buckets both need a token; a refusal takes none', () => {
  const l = new Limiter(() => 0);
  const agent = perSecond(3);
  const route = perSecond(1);
  assert.equal(retryAfter(() => l.admit('a', agent, 'r', route)), null);
  assert.equal(retryAfter(() => l.admit('a', agent, 'r', route)), 1, 'the route bucket is empty');
  // The refusal above did not spend an agent token: two are left for other routes.
  assert.equal(retryAfter(() => l.admit('a', agent, 's', route)), null);
  assert.equal(retryAfter(() => l.admit('a', agent, 't', undefined)), null);
  assert.equal(retryAfter(() => l.admit('a', agent, 'u', undefined)), 1);
});

test('stream caps count until release; release is idempotent', () => {
  const l = new Limiter(() => 0);
  const r1 = l.admit('a', streams(2), 'r', undefined)!;
  const r2 = l.admit('a', streams(2), 'r', undefined)!;
  assert.equal(retryAfter(() => l.admit('a', streams(2), 'r', undefined)), 1);
  r1();
  r1();
  const r3 = l.admit('a', streams(2), 'r', undefined)!;
  assert.equal(retryAfter(() => l.admit('a', streams(2), 'r', undefined)), 1, 'a double release freed one slot only');
  r2();
  r3();
  assert.equal(l.admit('a', undefined, 'r', undefined), null, 'no cap, nothing to release');
  const perRoute = l.admit('a', undefined, 'r', streams(1))!;
  assert.equal(retryAfter(() => l.admit('a', undefined, 'r', streams(1))), 1);
  assert.equal(retryAfter(() => l.admit('a', undefined, 's', streams(1))), null, 'per route');
  perRoute();
});

test('changed settings rebuild a bucket (full); unchanged ones keep their tokens; retain drops the gone', () => {
  const l = new Limiter(() => 0);
  for (let i = 0; i < 2; i++) l.admit('a', perSecond(2), null, undefined);
  assert.equal(retryAfter(() => l.admit('a', perSecond(2), null, undefined)), 1, 'same settings (a new object): state kept');
  assert.equal(retryAfter(() => l.admit('a', perSecond(3), null, undefined)), null, 'new settings: a full bucket');
  l.admit('b', perSecond(1), null, undefined);
  l.retain(new Set(['a']), new Set());
  assert.equal(retryAfter(() => l.admit('b', perSecond(1), null, undefined)), null, 'a removed agent starts afresh');
});
