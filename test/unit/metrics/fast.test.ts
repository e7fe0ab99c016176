/**
 * The hash-free metric types render exactly as prom-client's own would: cumulative
 * buckets with `le` and `+Inf`, `_sum` and `_count`, counters per label tuple.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { FastCounter, FastHistogram } from '../../../src/metrics/fast.js';

test('a fast histogram renders cumulative buckets, sum and count per label tuple', async () => {
  const reg = new Registry();
  const h = new FastHistogram('x_seconds', 'help', ['route'], [0.1, 1, 10], reg);
  for (const v of [0.05, 0.5, 0.5, 5, 50]) h.observe(['a'], v);
  h.observe(['b'], 0.2);
  const text = await reg.metrics();
  for (const line of [
    'x_seconds_bucket{route="a",le="0.1"} 1',
    'x_seconds_bucket{route="a",le="1"} 3',
    'x_seconds_bucket{route="a",le="10"} 4',
    'x_seconds_bucket{route="a",le="+Inf"} 5',
    'x_seconds_sum{route="a"} 56.05',
    'x_seconds_count{route="a"} 5',
    'x_seconds_count{route="b"} 1',
    '# TYPE x_seconds histogram',
  ]) {
    assert.ok(text.includes(line), `missing: ${line}\n${text}`);
  }
});

test('a fast counter keeps one series per label tuple, in label-name order', async () => {
  const reg = new Registry();
  const c = new FastCounter('y_total', 'help', ['route', 'outcome'], reg);
  c.inc(['a', 'ok']);
  c.inc(['a', 'ok'], 2);
  c.inc(['a', 'denied']);
  c.inc(['b', 'ok']);
  assert.equal(c.valueOf(['a', 'ok']), 3);
  assert.equal(c.valueOf(['z', 'ok']), 0);
  const text = await reg.metrics();
  assert.ok(text.includes('y_total{route="a",outcome="ok"} 3'));
  assert.ok(text.includes('y_total{route="a",outcome="denied"} 1'));
  assert.ok(text.includes('y_total{route="b",outcome="ok"} 1'));
  assert.ok(text.includes('# TYPE y_total counter'));
});

test('a declared fast counter series renders at 0 and keeps its value when declared again', async () => {
  const reg = new Registry();
  const c = new FastCounter('z_total', 'help', ['route', 'event'], reg);
  c.declare(['a', 'hit']);
  assert.ok((await reg.metrics()).includes('z_total{route="a",event="hit"} 0'));
  c.inc(['a', 'hit'], 2);
  c.declare(['a', 'hit']);
  assert.equal(c.valueOf(['a', 'hit']), 2);
  assert.ok((await reg.metrics()).includes('z_total{route="a",event="hit"} 2'));
});
