/**
 * Fuzzing the request-target parsers (issue 8, SECURITY I1, I2): valid targets
 * mutated with the characters and spellings known to make parsers disagree, plus
 * random strings. Seeded and bounded.
 *
 *   - Only catalogued errors: every refusal is SidecarError BAD_TARGET; nothing else
 *     is ever thrown, and nothing takes long.
 *   - Cross-check with WHATWG URL (what undici, and most agents' clients, use): when
 *     the sidecar's parser accepts a target, URL must read the same host, port and
 *     path; wherever the two disagree the parser must have refused.
 *   - End to end: a sample of targets that URL would happily route somewhere but the
 *     parser refuses is sent to a running sidecar, which must refuse every one of them
 *     with nothing reaching any upstream.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SidecarError } from '../../src/errors.js';
import { parseAbsoluteTarget, parseConnectAuthority, parseHostHeader, parseOriginTarget } from '../../src/routing/target.js';
import { ledger, touchedSince } from '../helpers/capture-upstream.js';
import { startRig, type Rig } from '../helpers/sidecar-rig.js';
import { converse } from '../helpers/wire.js';
import { SECRETS } from '../helpers/stack.js';

const SEEDS = [
  'http://api.openai.com/v1/models?x=1',
  'https://api.openai.com/v1/chat/completions',
  'http://api.openai.com:8080/a/b',
  'http://127.0.0.1:9/x',
  'http://[::1]:8080/a',
  'http://[2001:db8::1]/p?q',
  'HTTP://API.Example.COM./p',
  'http://xn--pple-43d.com/',
  'http://api.xn--bcher-kva.example/v1',
  'http://a_b.test/%41%7e',
];

/** Pieces known to make URL parsers disagree, and bytes that must never pass. */
const TOKENS = [
  '@', ':', '#', '?', '/', '\\', '%', '%2e', '%2E', '%2f', '%5c', '%00', '%40', '%3a', '%25', '%zz', '[', ']', '.', '..', '//', ';', '&', '=',
  '\t', ' ', '\r', '\n', '\0', '\x7f', 'é', 'ａ', '\u017f', '\u212a', '\u200b', '\u3002', '\uff0e', '\u24d0', 'xn--', 'xn--zz', 'xn--abc-', 'xn--ls8h', 'xn--a-zhc', 'xn--4dbrk0ce', '0x', '0x7f', '0', '00', '017',
  '65536', '0', '::', '%25eth0', '%eth0', 'user:pass@', 'evil.test', '127.1', '2130706433', '::ffff:127.0.0.1', '%2e%2e', '.%2e', '%c0%ae', '%e0%80%ae',
  '~', '-', '_', 'A', '9', "'", '"', '<', '`', '{', '|', '^',
];

type Mut = { op: 'insert' | 'delete' | 'replace' | 'dup'; at: number; token: string; len: number };
const mut: fc.Arbitrary<Mut> = fc.record({
  op: fc.constantFrom('insert', 'delete', 'replace', 'dup'),
  at: fc.nat(),
  token: fc.constantFrom(...TOKENS),
  len: fc.integer({ min: 1, max: 4 }),
});

function apply(s: string, muts: readonly Mut[]): string {
  let out = s;
  for (const m of muts) {
    const at = out.length === 0 ? 0 : m.at % (out.length + 1);
    switch (m.op) {
      case 'insert':
        out = out.slice(0, at) + m.token + out.slice(at);
        break;
      case 'delete':
        out = out.slice(0, at) + out.slice(at + m.len);
        break;
      case 'replace':
        out = out.slice(0, at) + m.token + out.slice(at + m.len);
        break;
      case 'dup':
        out = out.slice(0, at) + out.slice(at, at + m.len * 3) + out.slice(at);
        break;
    }
  }
  return out;
}

const mutatedAbsolute = fc.tuple(fc.constantFrom(...SEEDS), fc.array(mut, { minLength: 1, maxLength: 4 })).map(([s, m]) => apply(s, m));
const randomString = fc.string({ unit: fc.constantFrom(...TOKENS, 'a', 'b', 'h', 't', 'p', 's', '1', '8'), maxLength: 40 });
const absoluteInputs = fc.oneof({ arbitrary: mutatedAbsolute, weight: 4 }, { arbitrary: randomString.map((r) => `http://${r}`), weight: 1 }, { arbitrary: randomString, weight: 1 });

/** Call `parse`; a refusal must be SidecarError BAD_TARGET, anything else fails the property. */
function attempt<T>(parse: () => T): T | null {
  const t0 = performance.now();
  try {
    return parse();
  } catch (err) {
    assert.ok(err instanceof SidecarError, `not a SidecarError: ${String(err)}`);
    assert.equal(err.code, 'BAD_TARGET');
    return null;
  } finally {
    assert.ok(performance.now() - t0 < 1000, 'parsing took over a second');
  }
}

function whatwg(raw: string, base?: string): URL | null {
  try {
    return base === undefined ? new URL(raw) : new URL(raw, base);
  } catch {
    return null;
  }
}

function hostOf(u: URL): string {
  return u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname.replace(/\.$/, '');
}

function portOf(u: URL): number {
  return u.port === '' ? (u.protocol === 'https:' ? 443 : 80) : Number(u.port);
}

/** Inputs WHATWG URL reads as a request to a known host that the parser refused: collected for the live check. */
const disagreements = new Map<string, string>();

test('absolute-form: only BAD_TARGET, and whatever is accepted reads the same under WHATWG URL', () => {
  let accepted = 0;
  fc.assert(
    fc.property(absoluteInputs, (raw) => {
      const t = attempt(() => parseAbsoluteTarget(raw));
      const u = whatwg(raw);
      if (t === null) {
        if (u !== null && (u.protocol === 'http:' || u.protocol === 'https:') && /^(api\.openai\.com|127\.0\.0\.1)$/.test(hostOf(u))) disagreements.set(raw, u.host);
        return;
      }
      accepted++;
      assert.ok(u !== null, `accepted ${JSON.stringify(raw)}, which WHATWG URL refuses`);
      assert.equal(t.host, hostOf(u), `host of ${JSON.stringify(raw)}`);
      assert.equal(t.port, portOf(u), `port of ${JSON.stringify(raw)}`);
      assert.equal(t.path, u.pathname, `path of ${JSON.stringify(raw)}`);
      assert.ok(u.hash === '', 'a fragment was accepted');
      assert.ok(u.username === '' && u.password === '', 'userinfo was accepted');
    }),
    { seed: 0xace0, numRuns: 4000 },
  );
  assert.ok(accepted > 200, `only ${accepted} inputs were accepted: the generator is not exercising the accept path`);
});

test('origin-form: only BAD_TARGET; accepted paths keep the origin and the path under WHATWG URL', () => {
  const origins = fc.tuple(fc.constantFrom('/openai/v1/models', '/anthropic/v1/messages?beta=1', '/v1/x/y', '/a%41/b'), fc.array(mut, { minLength: 1, maxLength: 4 })).map(([s, m]) => apply(s, m));
  let accepted = 0;
  fc.assert(
    fc.property(fc.oneof(origins, randomString), (raw) => {
      const t = attempt(() => parseOriginTarget(raw));
      if (t === null) return;
      accepted++;
      const u = whatwg(raw, 'http://sidecar.invalid');
      assert.ok(u !== null);
      assert.equal(u.host, 'sidecar.invalid', `origin-form ${JSON.stringify(raw)} changes the authority`);
      assert.equal(u.pathname, t.path, `path of ${JSON.stringify(raw)}`);
    }),
    { seed: 0x0815, numRuns: 2500 },
  );
  assert.ok(accepted > 120, `only ${accepted} accepted`);
});

test('CONNECT authority and Host header: only BAD_TARGET; accepted values read the same under WHATWG URL', () => {
  const authorities = fc
    .tuple(fc.constantFrom('api.openai.com:443', 'api.openai.com:80', '[::1]:8443', '127.0.0.1:9', 'a-b.example:1', 'API.OpenAI.com.:443'), fc.array(mut, { maxLength: 3 }))
    .map(([s, m]) => apply(s, m));
  let accepted = 0;
  fc.assert(
    fc.property(fc.oneof(authorities, randomString), (raw) => {
      const c = attempt(() => parseConnectAuthority(raw));
      const h = attempt(() => parseHostHeader(raw, 'http'));
      for (const parsed of [c, h]) {
        if (parsed === null) continue;
        accepted++;
        const u = whatwg(`http://${raw}/`);
        assert.ok(u !== null, `accepted authority ${JSON.stringify(raw)}, which WHATWG URL refuses`);
        assert.equal(parsed.host, hostOf(u), `host of ${JSON.stringify(raw)}`);
        assert.equal(parsed.port, portOf(u), `port of ${JSON.stringify(raw)}`);
      }
      if (c !== null) assert.ok(c.port >= 1 && c.port <= 65535);
    }),
    { seed: 0xc0ec7, numRuns: 2500 },
  );
  assert.ok(accepted > 120, `only ${accepted} accepted`);
});

// --- End to end: the sidecar refuses what the parser refuses ------------------------------

let rig: Rig;
before(async () => {
  rig = await startRig({
    upstreams: ['openai', 'sentinel'],
    credentials: { 'openai/api-key': SECRETS.openai },
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
`,
  });
});
after(() => rig.close());

test('targets WHATWG URL would route but the parser refuses are refused by the running sidecar', async (t) => {
  // Only inputs that can stand in a request line (no whitespace, controls or non-Latin-1).
  const sendable = [...disagreements.entries()].filter(([raw]) => !/[\s\0\x7f]/.test(raw) && /^[\x21-\xff]*$/.test(raw)).slice(0, 120);
  assert.ok(sendable.length >= 30, `only ${sendable.length} disagreements to send`);
  t.diagnostic(`${disagreements.size} disagreements found, ${sendable.length} sent to the sidecar`);
  const before = ledger(rig.all);
  for (const [raw, host] of sendable) {
    const c = await converse(rig.proxyPort, [Buffer.from(`GET ${raw} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`, 'latin1')], { quietMs: 500 });
    const status = c.responses[0]?.status ?? 0;
    assert.ok(status === 0 || status >= 400, `the sidecar answered ${status} to ${JSON.stringify(raw)}`);
    assert.ok(!c.raw.includes(SECRETS.openai));
  }
  assert.deepEqual(touchedSince(rig.all, before), [], 'a refused target reached an upstream');
});
