/**
 * Tripwires that cannot be sidestepped by encoding (gateway mode). The agent's
 * placeholder and its proxy token, bound for a host they do not belong to, hidden in a
 * header name, percent-encoded in the query (beside a malformed escape, and double
 * encoded), percent-encoded in a path segment, in a percent-encoded header value and in
 * an application/x-www-form-urlencoded body: 403 TRIPWIRE, or 400 BAD_TARGET for the
 * malformed escape; a capture upstream proves nothing left. Raw sockets: the bytes
 * matter.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { startRig, type Rig } from '../helpers/sidecar-rig.js';
import { rawRequest } from '../helpers/raw.js';
import { recordEvidence } from '../helpers/evidence.js';

const TOKEN = `pt-alpha-${randomBytes(16).toString('hex')}`;
const PLACEHOLDER = 'sk-alpha-placeholder-0001';
const sha = (t: string): string => createHash('sha256').update(t).digest('hex');

let rig: Rig;
before(async () => {
  rig = await startRig({
    upstreams: ['docs', 'openai'],
    credentials: { 'openai/key': 'sk-tripwire-enc-SECRET-77' },
    routes: (u) => `
egress: { block_private_addresses: false }
routes:
  - { name: openai, match: { host: api.openai.com }, upstream: "${u.openai!.origin}", allow_plaintext: true, credential: openai/key }
  - { name: docs, match: { host: docs.test }, upstream: "${u.docs!.origin}", allow_plaintext: true }
agents:
  - { name: alpha, token_sha256: ${sha(TOKEN)}, routes: [openai, docs], placeholders: [${PLACEHOLDER}] }
`,
  });
  recordEvidence('secret', [TOKEN]);
});
after(() => rig.close());

/** Every byte escaped: what an agent trying to slip a string past a literal search would send. */
const pct = (s: string): string => [...Buffer.from(s)].map((b) => `%${b.toString(16).padStart(2, '0').toUpperCase()}`).join('');

async function send(target: string, headers: string[] = [], body = ''): Promise<{ status: number; code: string | undefined }> {
  const head = [
    `POST ${target} HTTP/1.1`,
    `Host: ${new URL(target).host}`,
    `Proxy-Authorization: Bearer ${TOKEN}`,
    ...headers,
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
  ];
  const r = await rawRequest(rig.proxyPort, `${head.join('\r\n')}\r\n\r\n${body}`, 3000);
  return { status: r.status, code: r.headers['x-sanctum-error'] };
}

/** Send, expect the refusal, and prove nothing reached either upstream. */
async function refused(what: string, expect: [number, string], target: string, headers: string[] = [], body = ''): Promise<void> {
  const before = rig.all.map((u) => u.requests.length);
  const bytesBefore = rig.all.map((u) => u.bytesReceived());
  const r = await send(target, headers, body);
  assert.deepEqual([r.status, r.code], expect, what);
  assert.deepEqual(rig.all.map((u) => u.requests.length), before, `${what}: no request reached an upstream`);
  assert.deepEqual(rig.all.map((u) => u.bytesReceived()), bytesBefore, `${what}: not one byte reached an upstream`);
}

const TRIP: [number, string] = [403, 'TRIPWIRE'];

test('a clean request to the plain route passes (the fixture works)', async () => {
  const r = await send('http://docs.test/page?q=hello%20world', ['X-Note: fine'], 'a=1&b=2');
  assert.equal(r.status, 200);
});

for (const [kind, needle] of [
  ['placeholder', PLACEHOLDER],
  ['proxy token', TOKEN],
] as const) {
  test(`${kind} in a header name: TRIPWIRE`, async () => {
    await refused('as sent', TRIP, 'http://docs.test/x', [`X-${needle}: 1`]);
    await refused('in another case', TRIP, 'http://docs.test/x', [`${needle.toUpperCase()}: 1`]);
  });

  test(`${kind} percent-encoded in the query: TRIPWIRE; beside a malformed escape: BAD_TARGET`, async () => {
    await refused('every byte escaped', TRIP, `http://docs.test/search?k=${pct(needle)}`);
    await refused('double encoded', TRIP, `http://docs.test/search?k=${pct(needle).replaceAll('%', '%25')}`);
    await refused('malformed escape first', [400, 'BAD_TARGET'], `http://docs.test/search?a=%zz&k=${pct(needle)}`);
    await refused('malformed escape after', [400, 'BAD_TARGET'], `http://docs.test/search?k=${pct(needle)}&b=100%`);
  });

  test(`${kind} percent-encoded in a path segment: TRIPWIRE`, async () => {
    await refused('every byte of a segment escaped', TRIP, `http://docs.test/files/${pct(needle)}/raw`);
  });

  test(`${kind} in a percent-encoded header value: TRIPWIRE`, async () => {
    await refused('escaped value', TRIP, 'http://docs.test/x', [`X-Note: ${pct(needle)}`]);
    await refused('escaped beside a malformed escape', TRIP, 'http://docs.test/x', [`X-Note: 100%; ${pct(needle)}`]);
  });

  test(`${kind} in an application/x-www-form-urlencoded body: TRIPWIRE`, async () => {
    const ct = 'Content-Type: application/x-www-form-urlencoded';
    await refused('escaped field', TRIP, 'http://docs.test/form', [ct], `a=%zz&key=${pct(needle)}&z=1`);
    await refused('plus for space, escapes for the rest', TRIP, 'http://docs.test/form', [ct], `note=see+${pct(needle)}`);
  });
}

test('on its own credential route the placeholder in the replaced header is expected, and the escaped one in the query is not', async () => {
  const ok = await send('http://api.openai.com/v1/models', [`Authorization: Bearer ${PLACEHOLDER}`]);
  assert.equal(ok.status, 200);
  assert.equal(rig.ups.openai!.requests.at(-1)!.headers.authorization, 'Bearer sk-tripwire-enc-SECRET-77');
  await refused('the token escaped in the query of its own route', TRIP, `http://api.openai.com/v1/models?t=${pct(TOKEN)}`);
});
