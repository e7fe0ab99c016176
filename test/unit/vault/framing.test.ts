// The framing codec: split frames, many frames per read, limits, and errors that never quote the frame.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VaultFrameTooLargeError, VaultProtocolError } from '../../../src/vault/errors.js';
import { encodeFrame, FrameDecoder, MAX_RECV_FRAME, MAX_SEND_FRAME } from '../../../src/vault/framing.js';

function header(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
}

test('a frame split at every byte boundary decodes once', () => {
  const msg = { id: 7, result: { header_value: 'héllo ✓ 🙂' } };
  const frame = encodeFrame(msg);
  for (let cut = 1; cut < frame.length; cut++) {
    const d = new FrameDecoder();
    assert.deepEqual(d.push(frame.subarray(0, cut)), []);
    assert.deepEqual(d.push(frame.subarray(cut)), [msg]);
    assert.equal(d.bufferedBytes, 0);
  }
});

test('byte-at-a-time and many frames in one read', () => {
  const msgs = Array.from({ length: 50 }, (_, i) => ({ id: i + 1, result: { n: i } }));
  const all = Buffer.concat(msgs.map((m) => encodeFrame(m)));
  assert.deepEqual(new FrameDecoder().push(all), msgs);
  const d = new FrameDecoder();
  const out: unknown[] = [];
  for (const byte of all) out.push(...d.push(Buffer.from([byte])));
  assert.deepEqual(out, msgs);
});

test('the length counts UTF-8 bytes, not characters', () => {
  const frame = encodeFrame({ s: 'é' });
  assert.equal(frame.readUInt32BE(0), Buffer.byteLength('{"s":"é"}'));
});

test('a 16 MiB frame in 64 KiB reads is accepted; one byte more is refused from the header alone', () => {
  const filler = 'x'.repeat(MAX_RECV_FRAME - '{"a":""}'.length);
  const body = Buffer.from(`{"a":"${filler}"}`);
  assert.equal(body.length, MAX_RECV_FRAME);
  const frame = Buffer.concat([header(body.length), body]);
  const d = new FrameDecoder();
  let out: unknown[] = [];
  for (let i = 0; i < frame.length; i += 65536) out = out.concat(d.push(frame.subarray(i, i + 65536)));
  assert.equal(out.length, 1);
  assert.equal((out[0] as { a: string }).a.length, filler.length);

  const tooBig = new FrameDecoder();
  assert.throws(() => tooBig.push(header(MAX_RECV_FRAME + 1)), VaultProtocolError);
  assert.throws(() => tooBig.push(Buffer.from('{}')), /already failed/);
});

test('a 2 GiB length prefix is refused at once', () => {
  assert.throws(() => new FrameDecoder().push(header(0x80000000)), (e: unknown) => e instanceof VaultProtocolError && /2147483648 bytes/.test(e.message));
});

test('invalid JSON and invalid UTF-8 are protocol errors that do not quote the frame', () => {
  const secretish = Buffer.from('{"value":"sk-live-SECRET-123",');
  assert.throws(
    () => new FrameDecoder().push(Buffer.concat([header(secretish.length), secretish])),
    (e: unknown) => e instanceof VaultProtocolError && !e.message.includes('SECRET') && /not valid JSON/.test(e.message),
  );
  const bad = Buffer.from([0x22, 0xff, 0xfe, 0x22]);
  assert.throws(() => new FrameDecoder().push(Buffer.concat([header(4), bad])), /not valid UTF-8/);
  assert.throws(() => new FrameDecoder().push(header(0)), /not valid JSON/);
});

test('encodeFrame refuses more than 4 MiB with a typed error, without the content', () => {
  const big = { data: 'S'.repeat(MAX_SEND_FRAME) };
  assert.throws(() => encodeFrame(big), (e: unknown) => e instanceof VaultFrameTooLargeError && e.code === 'FRAME_TOO_LARGE' && !e.message.includes('SSSS'));
  const exact = { d: 'y'.repeat(MAX_SEND_FRAME - '{"d":""}'.length) };
  assert.equal(encodeFrame(exact).readUInt32BE(0), MAX_SEND_FRAME);
});
