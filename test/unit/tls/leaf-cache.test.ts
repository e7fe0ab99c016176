/** Leaves are minted once per host and cached; renewed before expiry; the cache is bounded. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { LeafCache } from '../../../src/tls/leaf-cache.js';
import { createCa, issuerFrom } from '../../../src/tls/x509.js';

const ca = createCa();
const issuer = issuerFrom(new X509Certificate(ca.certPem), ca.key);

test('one leaf per host, reused', () => {
  const cache = new LeafCache(issuer);
  const a = cache.contextFor('api.openai.com');
  assert.equal(cache.contextFor('api.openai.com'), a);
  assert.equal(cache.minted, 1);
  cache.contextFor('api.anthropic.com');
  assert.equal(cache.minted, 2);
});

test('a leaf is replaced a day before it expires', () => {
  let now = Date.now();
  const cache = new LeafCache(issuer, { days: 7, now: () => now });
  const first = cache.contextFor('api.openai.com');
  now += 5 * 86_400_000;
  assert.equal(cache.contextFor('api.openai.com'), first);
  now += 1.5 * 86_400_000;
  assert.notEqual(cache.contextFor('api.openai.com'), first);
  assert.equal(cache.minted, 2);
});

test('the cache is bounded: the oldest host is dropped', () => {
  const cache = new LeafCache(issuer, { maxEntries: 2 });
  const a = cache.contextFor('a.example');
  cache.contextFor('b.example');
  cache.contextFor('c.example');
  assert.equal(cache.minted, 3);
  assert.notEqual(cache.contextFor('a.example'), a);
  assert.equal(cache.minted, 4);
});
