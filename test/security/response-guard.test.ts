/**
 * The response guard, against an upstream that reflects the injected credential
 * (helpers/reflector.ts) in a header, a JSON body, an SSE stream split at every byte
 * offset of the secret, and a gzip body, in each of `mask` and `abort`. The agent side
 * is a raw socket: the assertion is on the bytes it received, which never contain the
 * secret. Also: Basic credentials (token and decoded password), the log line and metric
 * of every hit, `off`, and SSE events still arriving one by one with the guard on.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { gunzipSync, constants } from 'node:zlib';
import { startStack, SECRETS, type Stack } from '../helpers/stack.js';
import { startReflector, type Reflector } from '../helpers/reflector.js';
import { rawRequest } from '../helpers/raw.js';

const SECRET = SECRETS.openai;
const BASIC_PASS = SECRETS.basic.slice(SECRETS.basic.indexOf(':') + 1);
const BASIC_B64 = Buffer.from(SECRETS.basic).toString('base64');
const STARS = '*'.repeat(SECRET.length);

let refl: Reflector;
let s: Stack;

const route = (name: string, extra = '', credential = 'openai/api-key') => `
  - name: ${name}
    prefix: /${name}
    upstream: ${refl.origin}
    allow_plaintext: true
    credential: ${credential}
${extra}`;

before(async () => {
  refl = await startReflector();
  s = await startStack({
    routes: `
egress: { block_private_addresses: false }
routes:
${route('mask')}
${route('abort', '    response_guard: abort')}
${route('off', '    response_guard: off')}
${route('basic', '    inject: { header_type: basic }', 'svc/basic')}
`,
  });
});
after(async () => {
  await s.close();
  await refl.close();
});

/**
 * One request on a raw socket; the answer's body de-chunked (a secret split by chunk
 * framing would otherwise hide from the search), after the request's canonical line.
 */
async function get(path: string, extra = ''): Promise<{ raw: string; status: number; headers: Record<string, string>; body: string }> {
  const lines = s.requestLines().length;
  const r = await rawRequest(s.proxyPort, `GET ${path} HTTP/1.1\r\nHost: sidecar\r\n${extra}Connection: close\r\n\r\n`, 3000);
  for (let i = 0; i < 200 && s.requestLines().length <= lines; i++) await new Promise((w) => setTimeout(w, 10));
  const body = r.headers['transfer-encoding'] === 'chunked' ? dechunk(r.body) : r.body;
  return { raw: r.raw, status: r.status, headers: r.headers, body };
}

/** The payload of a chunked body, as far as it arrived. */
function dechunk(text: string): string {
  let out = '';
  let i = 0;
  for (;;) {
    const eol = text.indexOf('\r\n', i);
    if (eol < 0) return out + text.slice(i);
    const size = parseInt(text.slice(i, eol), 16);
    if (!(size > 0)) return out;
    out += text.slice(eol + 2, eol + 2 + size);
    i = eol + 2 + size + 2;
  }
}

/** Neither the raw bytes nor the de-chunked body carry the secret. */
function assertNoSecret(r: { raw: string; body: string }, what: string): void {
  assert.equal(r.raw.includes(SECRET), false, `${what}: the agent received the secret`);
  assert.equal(r.body.includes(SECRET), false, `${what}: the agent received the secret (across chunk framing)`);
}

async function guardCount(routeName: string, action: string): Promise<number> {
  const text = await (await fetch(`${s.adminUrl}/metrics`)).text();
  const m = new RegExp(`^sanctum_sidecar_response_guard_total\\{route="${routeName}",action="${action}"\\} (\\d+)$`, 'm').exec(text);
  return m === null ? 0 : Number(m[1]);
}

function lastLine(): Record<string, unknown> {
  return s.requestLines().at(-1)!;
}

test('a reflecting upstream reaches the agent unmasked only when the guard is off (the fixture works)', async () => {
  const r = await get('/off/json');
  assert.ok(r.body.includes(SECRET), 'response_guard: off relays the answer as it is');
});

test('header reflection, mask: the value and WWW-Authenticate are masked with the same length, and the hit is logged without the value', async () => {
  const before = await guardCount('mask', 'masked');
  const r = await get('/mask/header');
  assertNoSecret(r, 'header');
  assert.equal(r.status, 401);
  assert.equal(r.headers['x-echo-auth'], `Bearer ${STARS}`);
  assert.match(r.headers['www-authenticate']!, new RegExp(`token="\\*{${SECRET.length}}"`));
  assert.equal(await guardCount('mask', 'masked'), before + 2);
  const warn = s.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => String(l.msg).startsWith('response guard'));
  assert.ok(warn.some((l) => l.where === 'header' && l.name === 'x-echo-auth' && l.route === 'mask' && l.action === 'masked'), JSON.stringify(warn));
  assert.equal(lastLine().guard, 'masked');
  assert.equal(s.logs.some((l) => l.includes(SECRET)), false, 'no log line carries the secret');
});

test('header reflection, abort: 502 RESPONSE_BLOCKED and nothing of the answer', async () => {
  const r = await get('/abort/header');
  assertNoSecret(r, 'header/abort');
  assert.equal(r.status, 502);
  assert.equal(r.headers['x-sanctum-error'], 'RESPONSE_BLOCKED');
  assert.equal(r.headers['x-echo-auth'], undefined);
  assert.equal(lastLine().code, 'RESPONSE_BLOCKED');
  assert.equal(lastLine().guard, 'aborted');
  assert.ok((await guardCount('abort', 'aborted')) >= 1);
});

test('JSON body reflection, mask: same Content-Length, valid JSON, the secret replaced by stars', async () => {
  const r = await get('/mask/json');
  assertNoSecret(r, 'json');
  assert.equal(Buffer.byteLength(r.body, 'latin1'), Number(r.headers['content-length']), 'Content-Length stays valid');
  const body = JSON.parse(r.body) as { error: { message: string; received: string } };
  assert.equal(body.error.received, `Bearer ${STARS}`);
  assert.match(body.error.message, new RegExp(`key provided: \\*{${SECRET.length}}\\.`));
});

test('JSON body reflection, abort: the response is cut short, never carrying the secret', async () => {
  const r = await get('/abort/json');
  assertNoSecret(r, 'json/abort');
  assert.ok(r.status === 0 || Buffer.byteLength(r.body, 'latin1') < Number(r.headers['content-length']), 'truncated or reset');
  assert.equal(lastLine().code, 'RESPONSE_BLOCKED');
});

for (const mode of ['mask', 'abort'] as const) {
  test(`SSE reflection split at every offset of the secret (${mode})`, async () => {
    for (let at = 0; at <= SECRET.length; at++) {
      const r = await get(`/${mode}/sse?at=${at}`);
      assertNoSecret(r, `sse split at ${at}`);
      assert.equal(r.status, 200);
      if (mode === 'mask') {
        assert.ok(r.body.includes(`data: {"echo":"${STARS}"}`), `masked event at split ${at}`);
        assert.ok(r.body.includes('data: [DONE]'), `the stream went on after the masked event (split ${at})`);
      } else {
        assert.ok(r.body.includes('data: {"n":1}'), 'events before the hit were delivered');
        assert.equal(r.body.includes('[DONE]'), false, `the stream ended at the hit (split ${at})`);
        assert.equal(lastLine().guard, 'aborted');
      }
    }
  });
}

/** Inflate as much of a (possibly cut) gzip body as arrived. */
function inflatePartial(body: Buffer): string {
  try {
    return gunzipSync(body, { finishFlush: constants.Z_SYNC_FLUSH }).toString('latin1');
  } catch {
    return '';
  }
}

for (const mode of ['mask', 'abort'] as const) {
  test(`gzip body reflection (${mode}): aborted before the compressed chunk that holds the secret`, async () => {
    for (const step of [16, 61, 4096]) {
      const r = await get(`/${mode}/gzip?step=${step}`, 'Accept-Encoding: gzip\r\n');
      assertNoSecret(r, `gzip step ${step}`);
      const body = Buffer.from(r.body, 'latin1');
      assert.ok(body.length < Number(r.headers['content-length'] ?? Infinity) || r.status === 0, `the body was cut (step ${step})`);
      const inflated = inflatePartial(body);
      assert.equal(inflated.includes(SECRET), false, `the received gzip bytes do not inflate to the secret (step ${step})`);
      assert.equal(lastLine().guard, 'aborted');
      assert.equal(lastLine().code, 'RESPONSE_BLOCKED');
    }
  });
}

test('Basic credentials: the base64 token and the decoded password are both searched', async () => {
  const r1 = await get('/basic/json');
  assert.equal(r1.body.includes(BASIC_B64), false);
  assert.ok(r1.body.includes('*'.repeat(BASIC_B64.length)));
  const r2 = await get('/basic/decoded');
  assert.equal(r2.body.includes(BASIC_PASS), false, 'the decoded password never reaches the agent');
  assert.ok(r2.body.includes(`svc-user:${'*'.repeat(BASIC_PASS.length)}`));
});

test('with the guard on, SSE events still arrive as separate reads (nothing held back)', async () => {
  const reads = await new Promise<string[]>((resolve, reject) => {
    const out: string[] = [];
    const req = httpRequest({ host: '127.0.0.1', port: s.proxyPort, path: '/mask/clean-sse?n=12' }, (res) => {
      res.on('data', (c: Buffer) => out.push(c.toString('utf8')));
      res.on('end', () => resolve(out));
    });
    req.on('error', reject);
    req.end();
  });
  const events = reads.join('').split('\n\n').filter((e) => e.startsWith('id: '));
  assert.equal(events.length, 12);
  assert.ok(reads.length >= 10, `expected ~12 separate reads, got ${reads.length}`);
  assert.ok(Math.max(...reads.map((r) => r.split('\n\n').filter((e) => e.startsWith('id: ')).length)) <= 2, 'no read carried a backlog of events');
});
