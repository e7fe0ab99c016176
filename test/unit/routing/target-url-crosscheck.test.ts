// Differential test against WHATWG URL (what undici and most clients use): whenever
// parseAbsoluteTarget accepts an input, `new URL(raw)` must see the same host, port and
// pathname. Inputs are generated from pieces known to make parsers disagree; the run is
// seeded, so it is deterministic.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SidecarError } from '../../../src/errors.js';
import { parseAbsoluteTarget, parseOriginTarget } from '../../../src/routing/target.js';

/** Mostly valid pieces, with a steady dose of the ones known to make parsers disagree. */
function mix<T>(good: readonly T[], bad: readonly T[], goodWeight: number): fc.Arbitrary<T> {
  return fc.oneof({ arbitrary: fc.constantFrom(...good), weight: goodWeight }, { arbitrary: fc.constantFrom(...bad), weight: 1 });
}

const schemes = mix(['http://', 'https://', 'HTTP://'], ['ftp://', 'http:/', 'http:\\\\'], 6);
const hosts = mix(
  ['api.openai.com', 'API.OpenAI.com.', 'xn--pple-43d.com', '127.0.0.1', '10.1.2.3', '[::1]', '[2001:db8::1]', 'a_b.test', 'x.y.z.example', '1.example'],
  [
    'api.openai.com..', 'xn--zz', 'аpple.com', 'ａｐｉ.test', '127.1', '0x7f.0.0.1', '0x7f000001', '2130706433', '0177.0.0.1',
    '127.000.0.1', '1.2.3.4.5', 'foo.123', 'foo.0x1', '[0:0::1]', '[::ffff:127.0.0.1]', '[::1%25eth0]', '[2001:DB8::1]', '::1',
    '-a.test', 'a-.test', 'api%2eopenai.com', 'user@evil.test', 'api.openai.com@evil.test', 'h\tost.test', 'h.test#', '',
    'h.test\\evil', 'a..b',
  ],
  2,
);
const ports = mix(['', ':80', ':443', ':8080', ':65535'], [':0', ':65536', ':080', ':', ':+1', ':1e3'], 4);
const segments = mix(
  ['v1', 'chat', 'a.b', '...', '%41', '%7e', '%7E', '~user', "a!$&'()*+,=:@b", '%c3%a9', '%25', '%20', 'models', 'x-y_z'],
  [
    '.', '..', '%2e', '%2E%2e', '.%2e', '%2f', '%2F', '%5c', '\\', ';x', 'a;b', '%3b', '', '%c0%ae', '%e0%80%ae', '%zz', '%4',
    '%00', '%0a', 'é', 'a b', '\t', '<x>', '{x}', '|', '^', '`', '"', '[x]', 'x#y', 'x?y',
  ],
  12,
);
const paths = fc.array(segments, { minLength: 0, maxLength: 4 }).map((s) => (s.length === 0 ? '' : `/${s.join('/')}`));
const queries = mix(['', '?', '?a=1', '?a=%2F..'], ['?a=b#c', '?a= b', '?x=é'], 4);

const rawUrls = fc.tuple(schemes, hosts, ports, paths, queries).map(([s, h, p, path, q]) => `${s}${h}${p}${path}${q}`);

function whatwg(raw: string): { host: string; port: number; pathname: string } {
  const u = new URL(raw);
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname.replace(/\.$/, '');
  const port = u.port === '' ? (u.protocol === 'https:' ? 443 : 80) : Number(u.port);
  return { host, port, pathname: u.pathname };
}

test('whenever parseAbsoluteTarget accepts, WHATWG URL agrees on host, port and pathname', () => {
  let accepted = 0;
  let runs = 0;
  fc.assert(
    fc.property(rawUrls, (raw) => {
      runs++;
      let t;
      try {
        t = parseAbsoluteTarget(raw);
      } catch {
        return true;
      }
      accepted++;
      const u = whatwg(raw); // throws (fails the property) if URL would refuse what we accepted
      assert.equal(t.host, u.host, `host for ${JSON.stringify(raw)}`);
      assert.equal(t.port, u.port, `port for ${JSON.stringify(raw)}`);
      assert.equal(t.path, u.pathname, `pathname for ${JSON.stringify(raw)}`);
      return true;
    }),
    { seed: 20240601, numRuns: 600 },
  );
  assert.equal(runs, 600);
  // Not vacuous: a fair share of the generated inputs are valid.
  assert.ok(accepted >= 120, `only ${accepted} of 600 generated targets were accepted`);
});

test('origin-form paths the parser accepts resolve to themselves under WHATWG URL', () => {
  let accepted = 0;
  fc.assert(
    fc.property(paths, queries, (path, q) => {
      let t;
      try {
        t = parseOriginTarget(`${path}${q}`);
      } catch {
        return true;
      }
      accepted++;
      // The danger with origin-form is a consumer doing new URL(target, base): it must not
      // change the origin or the path we checked.
      const u = new URL(`${path}${q}`, 'http://sidecar.invalid');
      assert.equal(u.host, 'sidecar.invalid');
      assert.equal(u.pathname, t.path);
      return true;
    }),
    { seed: 7, numRuns: 400 },
  );
  assert.ok(accepted >= 120, `only ${accepted} of 400 accepted`);
});

test('known disagreement cases are all refused', () => {
  // Each of these means something different to WHATWG URL than to a naive split.
  for (const raw of [
    'http://api.openai.com@evil.test/',
    'http://evil.test\\@api.openai.com/',
    'http://api.openai.com#@evil.test/',
    'http://127.1/',
    'http://0x7f000001/',
    'http://api%2eopenai%2ecom/',
    'http://ａｐｉ.openai.com/',
    'http://api.openai.com/v1/%2e%2e/admin',
    'http://api.openai.com/v1/\t../admin',
    'http://[0:0::1]/',
  ]) {
    assert.throws(() => parseAbsoluteTarget(raw), SidecarError, raw);
  }
});
