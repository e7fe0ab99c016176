// The response guard's search: needles from the injected value, a scanner that finds
// them across every chunk split and holds back only a possible needle prefix, and the
// compressed path that inflates alongside (gzip, deflate raw and zlib-wrapped, br).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { computeNeedles, StreamScanner } from '../../../src/proxy/guard-scanner.js';
import { ResponseGuard, type GuardHit } from '../../../src/proxy/response-guard.js';

const SECRET = 'sk-live-SECRET-0123456789';

test('needles: the token of Bearer, the token and decoded password of Basic, whole values; none under 8 bytes', () => {
  assert.deepEqual(computeNeedles(`Bearer ${SECRET}`).map(String), [SECRET]);
  assert.deepEqual(computeNeedles(`bearer\t${SECRET}`).map(String), [SECRET]);
  const b64 = Buffer.from('svc-user:SECRET-basic-pass').toString('base64');
  assert.deepEqual(computeNeedles(`Basic ${b64}`).map(String).sort(), [b64, 'SECRET-basic-pass'].sort());
  assert.deepEqual(computeNeedles(`Basic ${Buffer.from('u:short').toString('base64')}`).map(String), [Buffer.from('u:short').toString('base64')], 'a 5-byte password is not searched');
  assert.deepEqual(computeNeedles(SECRET).map(String), [SECRET], 'api_key and custom headers: the whole value');
  assert.deepEqual(computeNeedles('k-123').map(String), [], 'shorter than 8 bytes: nothing to search');
});

test('the scanner finds a secret split at every offset, masks it with the same length, and holds back only a possible prefix', () => {
  const body = Buffer.from(`{"echo":"Bearer ${SECRET}","again":"${SECRET}"}\n`);
  const masked = body.toString().replaceAll(SECRET, '*'.repeat(SECRET.length));
  for (let cut = 1; cut < body.length; cut++) {
    for (const cut2 of [cut, Math.min(body.length, cut + 3)]) {
      const s = new StreamScanner([Buffer.from(SECRET)], true);
      const parts = [body.subarray(0, cut), body.subarray(cut, cut2), body.subarray(cut2)];
      const out: Buffer[] = [];
      const hits: number[] = [];
      for (const p of parts) {
        const r = s.push(p);
        out.push(r.ready);
        hits.push(...r.hits);
      }
      out.push(s.end());
      assert.equal(Buffer.concat(out).toString(), masked, `split at ${cut}/${cut2}`);
      assert.deepEqual(hits, [body.indexOf(SECRET), body.lastIndexOf(SECRET)], `offsets at ${cut}/${cut2}`);
    }
  }
});

test('the scanner releases a chunk at once unless its end could begin the secret', () => {
  const s = new StreamScanner([Buffer.from(SECRET)], true);
  assert.equal(s.push(Buffer.from('data: {"n":1}\n\n')).ready.toString(), 'data: {"n":1}\n\n');
  assert.equal(s.holding, false);
  assert.equal(s.push(Buffer.from('data: sk-li')).ready.toString(), 'data: ', 'only the possible prefix is held');
  assert.equal(s.push(Buffer.from('ne\n\n')).ready.toString(), 'sk-line\n\n');
  assert.equal(s.holding, false);
});

function guardFor(mode: 'mask' | 'abort'): { g: ResponseGuard; hits: GuardHit[] } {
  const hits: GuardHit[] = [];
  return { g: new ResponseGuard([Buffer.from(SECRET)], mode, (h) => hits.push(h)), hits };
}

test('headers: values masked in mask mode, a name hit drops the header, abort mode withholds; unknown codings are withheld', () => {
  const { g, hits } = guardFor('mask');
  const list = ['www-authenticate', `Bearer realm="x", key="${SECRET}"`, SECRET.toLowerCase(), 'x', 'content-type', 'text/plain'];
  assert.equal(g.headers(list), true);
  assert.deepEqual(list, ['www-authenticate', `Bearer realm="x", key="${'*'.repeat(SECRET.length)}"`, SECRET.toLowerCase(), 'x', 'content-type', 'text/plain']);
  assert.deepEqual(hits.map((h) => h.where === 'header' && h.name), ['www-authenticate']);
  const named = guardFor('mask');
  const l2 = [SECRET, 'v', 'a', 'b'];
  assert.equal(named.g.headers(l2), true);
  assert.deepEqual(l2, ['a', 'b']);
  assert.equal(JSON.stringify(named.hits).includes(SECRET), false, 'the report never carries the value');
  const a = guardFor('abort');
  assert.equal(a.g.headers(['x-echo', SECRET]), false);
  assert.equal(a.hits[0]!.action, 'aborted');
  const z = guardFor('mask');
  assert.equal(z.g.headers(['content-encoding', 'zstd']), false);
  assert.equal(z.hits[0]!.action, 'uninspectable');
  assert.equal(guardFor('mask').g.headers(['content-encoding', 'gzip, br']), false, 'stacked codings are not inflated');
  assert.equal(guardFor('mask').g.headers(['content-encoding', 'identity']), true);
});

async function runCompressed(coding: string, comp: Buffer, step: number): Promise<{ written: Buffer; aborted: boolean; hits: GuardHit[] }> {
  const { g, hits } = guardFor('mask');
  assert.equal(g.headers(['content-encoding', coding]), true);
  assert.equal(g.inflating, true);
  const written: Buffer[] = [];
  for (let i = 0; i < comp.length; i += step) {
    const out = await new Promise<Buffer | null>((resolve) => g.bodyAsync(comp.subarray(i, i + step), resolve));
    if (out === null) return { written: Buffer.concat(written), aborted: true, hits };
    written.push(out);
  }
  written.push(await new Promise<Buffer>((resolve) => g.endAsync(resolve)));
  return { written: Buffer.concat(written), aborted: false, hits };
}

const CODINGS: Array<[string, (b: Buffer) => Buffer]> = [
  ['gzip', gzipSync],
  ['deflate', deflateSync],
  ['deflate', deflateRawSync],
  ['br', brotliCompressSync],
];

test('compressed bodies: a clean body is relayed byte for byte; one holding the secret is ended before the chunk that carries it', async () => {
  const clean = Buffer.from('x'.repeat(5000) + 'sk-live-not-the-secret' + 'y'.repeat(5000));
  const dirty = Buffer.from('x'.repeat(5000) + `"key":"${SECRET}"` + 'y'.repeat(5000));
  for (const [coding, compress] of CODINGS) {
    const c = compress(clean);
    for (const step of [1, 7, 64, c.length]) {
      const r = await runCompressed(coding, c, step);
      assert.equal(r.aborted, false, `${coding} clean step ${step}`);
      assert.ok(r.written.equals(c), `${coding} clean relayed untouched (step ${step})`);
    }
    const d = compress(dirty);
    for (const step of [1, 5, 33, d.length]) {
      const r = await runCompressed(coding, d, step);
      assert.equal(r.aborted, true, `${coding} dirty step ${step}`);
      assert.equal(r.hits[0]!.action, 'aborted');
      assert.equal((r.hits[0] as { offset: number }).offset, dirty.indexOf(SECRET));
      // What was written cannot be inflated into anything that reaches the secret.
      assert.ok(r.written.length < d.length, `${coding}: the body was cut (step ${step})`);
    }
  }
});

test('a corrupt compressed body is withheld, not relayed unsearched', async () => {
  const r = await runCompressed('gzip', Buffer.from('this is not gzip at all, not at all'), 8);
  assert.equal(r.aborted, true);
  assert.equal(r.hits[0]!.action, 'uninspectable');
});

test('compressed chunks fed without waiting for their verdicts are answered in order, and the end waits for them', async () => {
  const clean = Buffer.from(`${'sk-'.repeat(3000)}sk-live-SECRET-012345678${'z'.repeat(3000)}`);
  const c = gzipSync(clean);
  const { g } = guardFor('mask');
  g.headers(['content-encoding', 'gzip']);
  const parts: Array<Buffer | null> = [];
  const done: Array<Promise<void>> = [];
  for (let i = 0; i < c.length; i += 5) {
    const idx = parts.push(null) - 1;
    done.push(new Promise((resolve) => g.bodyAsync(c.subarray(i, i + 5), (out) => {
      parts[idx] = out;
      resolve();
    })));
  }
  const rest = await new Promise<Buffer>((resolve) => g.endAsync(resolve));
  await Promise.all(done);
  assert.ok(parts.every((p) => p !== null), 'no chunk was refused');
  assert.ok(Buffer.concat([...(parts as Buffer[]), rest]).equals(c), 'the compressed bytes come out whole and in order');
});
