// Durations and byte sizes as written in routes.yaml.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, MAX_DURATION_MS, parseDuration } from '../../../src/config/duration.js';
import { formatBytes, parseByteSize } from '../../../src/config/size.js';

test('durations with units become milliseconds', () => {
  const cases: Array<[string | number, number]> = [
    ['500ms', 500],
    ['2s', 2000],
    ['1.5s', 1500],
    ['1m', 60_000],
    ['1h', 3_600_000],
    ['1m30s', 90_000],
    ['1h0m5s', 3_605_000],
    ['0s', 0],
    ['0', 0],
    [0, 0],
    [' 2s ', 2000],
    ['0.5ms', 1],
  ];
  for (const [input, ms] of cases) assert.equal(parseDuration(input), ms, String(input));
});

test('bare numbers other than 0 are refused as ambiguous (seconds or milliseconds?)', () => {
  assert.throws(() => parseDuration(5), /needs a unit/);
  assert.throws(() => parseDuration(2.5), /needs a unit/);
  assert.throws(() => parseDuration('5'), /must look like/);
});

test('garbage durations are refused', () => {
  for (const s of ['', 's', '2', '2 s', '-1s', '+1s', '1d', '1sec', '1S', 'ms', '1.s', '.5s', '1e3ms', '2s3', 'NaNs', 'Infinitys', '1h 30m', '0.1ms', '9'.repeat(80) + 's']) {
    assert.throws(() => parseDuration(s), RangeError, JSON.stringify(s));
  }
});

test('durations beyond what Node timers hold are refused, not wrapped to 1ms', () => {
  assert.equal(parseDuration(`${MAX_DURATION_MS}ms`), MAX_DURATION_MS);
  assert.throws(() => parseDuration('25d'), RangeError);
  assert.throws(() => parseDuration('600h'), /24 days/);
});

test('durations format back for summaries', () => {
  assert.deepEqual([0, 750, 2000, 1500, 300_000, 3_600_000].map(formatDuration), ['0s', '750ms', '2s', '1.5s', '5m', '1h']);
});

test('sizes: bytes or binary units', () => {
  const cases: Array<[string | number, number]> = [
    [1024, 1024],
    [0, 0],
    ['512kb', 512 * 1024],
    ['1mb', 1024 * 1024],
    ['1MiB', 1024 * 1024],
    ['1.5kb', 1536],
    ['2gb', 2 * 1024 ** 3],
    ['100', 100],
    ['100b', 100],
    ['10 kb', 10240],
  ];
  for (const [input, n] of cases) assert.equal(parseByteSize(input), n, String(input));
  for (const bad of [-1, 1.5, 'lots', '1tb', '-1kb', '1k', '', 'kb']) assert.throws(() => parseByteSize(bad), RangeError, String(bad));
  assert.deepEqual([1024 * 1024, 512 * 1024, 1000].map(formatBytes), ['1 MiB', '512 KiB', '1000 B']);
});
