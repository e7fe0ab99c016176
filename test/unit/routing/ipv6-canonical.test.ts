// IPv6 literals must be in RFC 5952 canonical form, computed by host.ts itself (no URL
// parser in host validation); this cross-checks that form against WHATWG URL's
// serialisation, which is what undici dials, on random addresses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isIPv6 } from 'node:net';
import fc from 'fast-check';
import { HostSyntaxError, normalizeIPv6 } from '../../../src/routing/host.js';

const group = fc.oneof(fc.constantFrom('0', '00', '0000', '1', 'FFFF', 'db8'), fc.integer({ min: 0, max: 0xffff }).map((x) => x.toString(16)));
const address = fc.oneof(
  fc.array(group, { minLength: 8, maxLength: 8 }).map((g) => g.join(':')),
  fc.tuple(fc.array(group, { maxLength: 6 }), fc.array(group, { maxLength: 6 })).map(([a, b]) => `${a.join(':')}::${b.join(':')}`),
  fc.ipV6(),
);

test('an IPv6 literal is accepted exactly when it is already what WHATWG URL serialises', () => {
  let accepted = 0;
  fc.assert(
    fc.property(address, (raw) => {
      const lower = raw.toLowerCase();
      if (!isIPv6(lower)) return;
      const serialised = new URL(`http://[${lower}]/`).hostname.slice(1, -1);
      let ours: string | null;
      try {
        ours = normalizeIPv6(raw);
      } catch (err) {
        assert.ok(err instanceof HostSyntaxError);
        ours = null;
      }
      assert.equal(ours, serialised === lower ? lower : null, raw);
      if (ours !== null) accepted++;
    }),
    { seed: 5952, numRuns: 5000 },
  );
  assert.ok(accepted > 500, `only ${accepted} accepted`);
});

test('RFC 5952 cases: longest zero run, first on a tie, no single-group ::, no dotted IPv4', () => {
  assert.equal(normalizeIPv6('2001:db8::1'), '2001:db8::1');
  assert.equal(normalizeIPv6('2001:0:0:1::1'), '2001:0:0:1::1'); // the longer run is compressed
  assert.equal(normalizeIPv6('2001:db8::1:0:0:1'), '2001:db8::1:0:0:1'); // tie: the first run
  assert.equal(normalizeIPv6('1:2:3:4:5:6:0:8'), '1:2:3:4:5:6:0:8');
  for (const bad of ['2001:db8:0:0:1:0:0:1', '2001:db8:0:0:1::1', '2001::1:0:0:0:1', '2001:db8::0:1', '1:2:3:4:5:6::8', '::ffff:127.0.0.1', '0:0:0:0:0:0:0:1', '2001:0db8::1']) {
    assert.throws(() => normalizeIPv6(bad), HostSyntaxError, bad);
  }
});
