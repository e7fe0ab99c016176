/**
 * Fuzzing the vault frame decoder (issue 8): random bytes and mutated valid frame
 * streams, cut into random reads. Seeded and bounded, so every run is the same.
 *
 *   - No crash: a push either returns messages or throws VaultProtocolError; after a
 *     throw the decoder stays failed (every later push throws VaultProtocolError too).
 *   - No hang: every input is decoded within a time budget.
 *   - Round trip: unmutated streams decode to exactly what was encoded, however split.
 *   - No echo: an error message never quotes the frame (frames carry secrets).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { VaultProtocolError } from '../../src/vault/errors.js';
import { encodeFrame, FrameDecoder } from '../../src/vault/framing.js';

const MAX = 4096;
const MARKER = 'sk-FUZZ-SECRET-MARKER';
const BUDGET_MS = 2000;

/** Cut `bytes` at the given (sorted, deduplicated) offsets. */
function cut(bytes: Buffer, offsets: number[]): Buffer[] {
  const points = [...new Set(offsets.map((o) => o % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const p of points) {
    out.push(bytes.subarray(from, p));
    from = p;
  }
  out.push(bytes.subarray(from));
  return out;
}

interface Outcome {
  messages: unknown[];
  error: unknown;
}

/** Feed every chunk; stop at the first error and check the decoder stays failed. */
function feed(chunks: Buffer[]): Outcome {
  const d = new FrameDecoder(MAX);
  const messages: unknown[] = [];
  const t0 = performance.now();
  for (const c of chunks) {
    try {
      messages.push(...d.push(c));
    } catch (err) {
      assert.ok(err instanceof VaultProtocolError, `not a VaultProtocolError: ${String(err)}`);
      assert.ok(!err.message.includes(MARKER), 'the error message quotes the frame');
      assert.throws(() => d.push(Buffer.from([0, 0, 0, 2, 0x7b, 0x7d])), VaultProtocolError, 'a failed decoder accepted more input');
      return { messages, error: err };
    }
    assert.ok(performance.now() - t0 < BUDGET_MS, 'decoding took too long');
  }
  return { messages, error: null };
}

const jsonMessage = fc.record({
  id: fc.nat(),
  result: fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.constant({ header_name: 'authorization', header_value: `Bearer ${MARKER}` })),
});

test('random bytes in random reads: only VaultProtocolError, never a hang', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 3000 }), fc.array(fc.nat(), { maxLength: 20 }), (bytes, offsets) => {
      feed(cut(Buffer.from(bytes), offsets));
    }),
    { seed: 0x5a17, numRuns: 1000 },
  );
});

test('random bytes behind a plausible length header: only VaultProtocolError', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: MAX + 64 }), fc.uint8Array({ maxLength: MAX + 64 }), fc.array(fc.nat(), { maxLength: 8 }), (len, body, offsets) => {
      const h = Buffer.alloc(4);
      h.writeUInt32BE(len, 0);
      const out = feed(cut(Buffer.concat([h, Buffer.from(body)]), offsets));
      if (len > MAX) assert.ok(out.error instanceof VaultProtocolError, 'an oversized length was accepted');
    }),
    { seed: 0x1e57, numRuns: 500 },
  );
});

test('valid frame streams round-trip however they are split', () => {
  fc.assert(
    fc.property(fc.array(jsonMessage, { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 30 }), (msgs, offsets) => {
      const stream = Buffer.concat(msgs.map((m) => encodeFrame(m)));
      const out = feed(cut(stream, offsets));
      assert.equal(out.error, null);
      assert.deepEqual(JSON.stringify(out.messages), JSON.stringify(msgs));
    }),
    { seed: 0xf1a3, numRuns: 400 },
  );
});

type Mutation = { kind: 'flip' | 'insert' | 'delete' | 'truncate' | 'length'; at: number; byte: number; value: number };

const mutation: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom('flip', 'insert', 'delete', 'truncate', 'length'),
  at: fc.nat(),
  byte: fc.integer({ min: 0, max: 255 }),
  value: fc.oneof(fc.constantFrom(0, 1, 0x7fffffff, 0xffffffff, MAX, MAX + 1), fc.nat({ max: 0xffffffff })),
});

function mutate(stream: Buffer, muts: Mutation[]): Buffer {
  let b = Buffer.from(stream);
  for (const m of muts) {
    if (b.length === 0) break;
    const at = m.at % b.length;
    switch (m.kind) {
      case 'flip':
        b[at] = m.byte;
        break;
      case 'insert':
        b = Buffer.concat([b.subarray(0, at), Buffer.from([m.byte]), b.subarray(at)]);
        break;
      case 'delete':
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1)]);
        break;
      case 'truncate':
        b = b.subarray(0, at);
        break;
      case 'length':
        if (b.length >= 4) b.writeUInt32BE(m.value >>> 0, 0);
        break;
    }
  }
  return b;
}

test('mutated frame streams: only VaultProtocolError, never a quoted secret, never a hang', () => {
  fc.assert(
    fc.property(
      fc.array(jsonMessage, { minLength: 1, maxLength: 5 }),
      fc.array(mutation, { minLength: 1, maxLength: 4 }),
      fc.array(fc.nat(), { maxLength: 10 }),
      (msgs, muts, offsets) => {
        const stream = mutate(Buffer.concat(msgs.map((m) => encodeFrame(m))), muts);
        feed(cut(stream, offsets));
      },
    ),
    { seed: 0xbad5eed, numRuns: 1000 },
  );
});

test('edge frames: empty frame, every byte alone, and a header arriving one byte at a time', () => {
  const empty = feed([Buffer.from([0, 0, 0, 0])]);
  assert.ok(empty.error instanceof VaultProtocolError, 'an empty frame is not JSON');
  const frame = encodeFrame({ id: 1, result: { header_value: MARKER } });
  const oneByOne = feed([...frame].map((x) => Buffer.from([x])));
  assert.equal(oneByOne.error, null);
  assert.equal(oneByOne.messages.length, 1);
  const zeroChunks = feed([Buffer.alloc(0), Buffer.alloc(0), frame, Buffer.alloc(0)]);
  assert.equal(zeroChunks.messages.length, 1);
});
