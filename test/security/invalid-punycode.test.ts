/**
 * Invalid punycode hosts (issue 13): `http://xn--zz/` was accepted on Node 24, whose URL
 * parser passes any `xn--` label through, because the host check leaned on it. A live
 * sidecar must refuse every label that is not a valid IDNA A-label with 400 BAD_TARGET,
 * in absolute-form and in CONNECT, before anything is dialled; a valid IDN route still
 * gets its credential. Runs the same on every Node line.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ledger, touchedSince } from '../helpers/capture-upstream.js';
import { startRig, type Rig } from '../helpers/sidecar-rig.js';
import { converse } from '../helpers/wire.js';
import { SECRETS } from '../helpers/stack.js';

const IDN_SECRET = 'sk-live-idn-route-secret-0001';

/** Labels that are not valid A-labels, each breaking a different rule (see src/routing/idna.ts). */
const INVALID_HOSTS = [
  'xn--zz', // does not decode
  'xn--zz.example',
  'api.xn--zz',
  'xn--abc-.example', // decodes to plain ASCII
  'xn----eha.example', // leading hyphen
  'xn--ab---3ra.example', // "--" in positions 3-4
  'xn--ab-7tb.example', // starts with a combining mark
  'xn--wca.example', // uppercase letter
  'xn--ab-m1t.example', // zero width joiner
  'xn--ls8h.example', // emoji
  'xn--a-zhc.example', // breaks the bidi rule
  'XN--ZZ.example', // case does not matter
];

let rig: Rig;
before(async () => {
  rig = await startRig({
    upstreams: ['openai', 'idn', 'sentinel'],
    credentials: { 'openai/api-key': SECRETS.openai, 'idn/api-key': IDN_SECRET },
    routes: (u) => `
egress:
  unmatched: deny
  block_private_addresses: false
  allow: ["127.0.0.1"]
routes:
  - name: openai
    match: { host: api.openai.com }
    upstream: ${u.openai!.origin}
    allow_plaintext: true
    credential: openai/api-key
  - name: idn
    match: { host: xn--bcher-kva.example }
    upstream: ${u.idn!.origin}
    allow_plaintext: true
    credential: idn/api-key
`,
  });
});
after(() => rig.close());

const send = (lines: string, opts = {}) => converse(rig.proxyPort, [Buffer.from(lines, 'latin1')], { quietMs: 500, ...opts });

function assertBadTarget(c: Awaited<ReturnType<typeof send>>, what: string): void {
  const r = c.responses[0];
  assert.equal(r?.status, 400, what);
  assert.equal(r?.headers['x-sanctum-error'], 'BAD_TARGET', what);
  assert.ok(!c.raw.includes(SECRETS.openai) && !c.raw.includes(IDN_SECRET), what);
}

test('absolute-form requests to invalid punycode hosts get 400 BAD_TARGET and reach nothing', async () => {
  const before = ledger(rig.all);
  for (const host of INVALID_HOSTS) {
    const c = await send(`GET http://${host}/v1/models HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    assertBadTarget(c, `GET http://${host}/`);
  }
  assert.deepEqual(touchedSince(rig.all, before), []);
});

test('CONNECT to invalid punycode hosts gets 400 BAD_TARGET, no tunnel, nothing dialled', async () => {
  const before = ledger(rig.all);
  for (const host of INVALID_HOSTS) {
    for (const port of [443, 80]) {
      const c = await send(`CONNECT ${host}:${port} HTTP/1.1\r\nHost: ${host}:${port}\r\n\r\n`);
      assertBadTarget(c, `CONNECT ${host}:${port}`);
    }
  }
  assert.deepEqual(touchedSince(rig.all, before), []);
});

test('a valid punycode host is routed as today: absolute-form and plain HTTP in a CONNECT tunnel', async () => {
  const abs = await send('GET http://XN--BCHER-KVA.example/v1/x HTTP/1.1\r\nHost: xn--bcher-kva.example\r\nAuthorization: Bearer sk-sanctum-placeholder\r\nConnection: close\r\n\r\n');
  assert.equal(abs.responses[0]?.status, 200);
  const tunnelled = await converse(
    rig.proxyPort,
    [
      'CONNECT xn--bcher-kva.example:80 HTTP/1.1\r\nHost: xn--bcher-kva.example:80\r\n\r\n',
      { until: (c) => c.raw.includes('\r\n\r\n'), timeoutMs: 3000 },
      'GET /v1/y HTTP/1.1\r\nHost: xn--bcher-kva.example\r\nConnection: close\r\n\r\n',
    ],
    { responses: 2, noBody: [0], quietMs: 500 },
  );
  assert.deepEqual(tunnelled.responses.map((r) => r.status), [200, 200]);
  const got = rig.ups.idn!.requests;
  assert.deepEqual(got.map((r) => r.url), ['/v1/x', '/v1/y']);
  for (const r of got) assert.equal(r.headers.authorization, `Bearer ${IDN_SECRET}`);
  assert.ok(!abs.raw.includes(IDN_SECRET) && !tunnelled.raw.includes(IDN_SECRET));
});
