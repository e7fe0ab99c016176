// Punycode (xn--) labels are judged by our own IDNA rules (src/routing/idna.ts), the same on
// every runtime: Node 24's URL parser accepts any xn-- label, Node 20's refused some.
// Every invalid label below is refused in the request target, the CONNECT authority, the
// Host header and routes.yaml; valid IDN hosts are accepted as written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SidecarError } from '../../../src/errors.js';
import { checkConfigHost } from '../../../src/config/hosts.js';
import { HostSyntaxError, normalizeHostName } from '../../../src/routing/host.js';
import { aLabelProblem, idnaHostProblem, punycodeDecode, punycodeEncode } from '../../../src/routing/idna.js';
import { parseAbsoluteTarget, parseConnectAuthority, parseHostHeader } from '../../../src/routing/target.js';

/** RFC 3492 §7.1 sample strings (A, B, C, D, E, L, S). */
const RFC3492 = [
  ['\u0644\u064a\u0647\u0645\u0627\u0628\u062a\u0643\u0644\u0645\u0648\u0634\u0639\u0631\u0628\u064a\u061f', 'egbpdaj6bu4bxfgehfvwxn'],
  ['\u4ed6\u4eec\u4e3a\u4ec0\u4e48\u4e0d\u8bf4\u4e2d\u6587', 'ihqwcrb4cv8a8dqg056pqjye'],
  ['\u4ed6\u5011\u7232\u4ec0\u9ebd\u4e0d\u8aaa\u4e2d\u6587', 'ihqwctvzc91f659drss3x8bo0yb'],
  ['Pro\u010dprost\u011bnemluv\u00ed\u010desky', 'Proprostnemluvesky-uyb24dma41a'],
  ['\u05dc\u05de\u05d4\u05d4\u05dd\u05e4\u05e9\u05d5\u05d8\u05dc\u05d0\u05de\u05d3\u05d1\u05e8\u05d9\u05dd\u05e2\u05d1\u05e8\u05d9\u05ea', '4dbcagdahymbxekheh6e0a7fei0b'],
  ['3\u5e74B\u7d44\u91d1\u516b\u5148\u751f', '3B-ww4c5e180e575a65lsy2b'],
  ['-> $1.00 <-', '-> $1.00 <--'],
] as const;

test('RFC 3492 sample strings decode and encode', () => {
  for (const [unicode, encoded] of RFC3492) {
    assert.equal(punycodeDecode(encoded), unicode, encoded);
    assert.equal(punycodeEncode(unicode), encoded, encoded);
  }
});

test('punycode: decode(encode(s)) = s for any string, and decoding never throws', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme', maxLength: 20 }), (s) => assert.equal(punycodeDecode(punycodeEncode(s)), s)),
    { seed: 0x3492, numRuns: 2000 },
  );
  fc.assert(
    fc.property(fc.string({ unit: fc.constantFrom(...'abcxyz0189-_A9'), maxLength: 30 }), (s) => {
      const d = punycodeDecode(s);
      assert.ok(d === undefined || typeof d === 'string');
    }),
    { seed: 0x3493, numRuns: 4000 },
  );
});

test('malformed punycode is refused: bad digits, truncated integers, overflow, surrogates', () => {
  assert.equal(punycodeDecode('zz'), undefined); // the delta never terminates
  assert.equal(punycodeDecode(''), '');
  assert.equal(punycodeDecode('a_b'), undefined);
  assert.equal(punycodeDecode('99999999999'), undefined);
  assert.equal(punycodeDecode('\u00e9-kva'), undefined); // non-ASCII basic code points
});

/** Invalid A-labels, each with the rule it breaks (the reason text). */
const INVALID: ReadonlyArray<readonly [label: string, why: RegExp]> = [
  ['xn--zz', /does not decode/],
  ['xn--', /does not decode/],
  ['xn--0', /does not decode/],
  ['xn--abc-', /plain ASCII/], // decodes to "abc"
  ['xn----eha', /starts or ends with a hyphen/], // "-ü"
  ['xn----dha', /starts or ends with a hyphen/], // "ü-"
  ['xn--ab---3ra', /"--" in positions 3-4/], // "ab--ü"
  ['xn--ab-7tb', /combining mark/], // U+0301 first
  ['xn--bucher-xyd', /NFC/], // "bu" + combining diaeresis
  ['xn--a_b-kva', /ASCII characters other than/], // underscore
  ['xn--wca', /does not allow/], // "Ü": uppercase
  ['xn--b-yq0i', /does not allow/], // full-width "ａ"
  ['xn--ab-m1t', /does not allow/], // ZERO WIDTH JOINER
  ['xn--ls8h', /does not allow/], // emoji
  ['xn--a-1xp', /does not allow/], // snowman (a symbol)
  ['xn--ngb1c', /does not allow/], // ARABIC TATWEEL (RFC 5892 exception)
  ['xn--kz9a', /does not allow/], // Cherokee small letter: case folds to a capital
  ['xn--8hb20a', /mixing Arabic-Indic/],
  ['xn--a-zhc', /bidi rule/], // Hebrew letter + Latin letter
  ['xn--1-0mc3o', /bidi rule/], // Arabic letter, ASCII digit and Arabic-Indic digit
];

/** Valid IDN labels: German, Chinese, Hebrew, ß, Russian TLD, Arabic with an Arabic-Indic digit. */
const VALID = ['xn--bcher-kva', 'xn--fiqs8s', 'xn--4dbrk0ce', 'xn--zca', 'xn--p1ai', 'xn--4gb4f', 'xn--pple-43d', 'xn--mnchen-3ya'];

test('invalid A-labels are refused with the rule they break', () => {
  for (const [label, why] of INVALID) {
    const problem = idnaHostProblem([label]);
    assert.ok(problem !== undefined, `${label} was accepted`);
    assert.match(problem, why, label);
    assert.ok(!problem.replace('(xn--)', '').includes(label), 'the reason never quotes the label');
  }
});

test('valid A-labels are accepted', () => {
  for (const label of VALID) {
    assert.equal(aLabelProblem(label), undefined, label);
    assert.equal(idnaHostProblem([label]), undefined, label);
  }
});

test('a right-to-left label makes the bidi rule apply to every label of the host', () => {
  assert.equal(idnaHostProblem(['api', 'xn--4dbrk0ce']), undefined);
  assert.equal(idnaHostProblem(['x1', 'xn--4dbrk0ce']), undefined);
  assert.match(idnaHostProblem(['1api', 'xn--4dbrk0ce']) ?? '', /bidi/); // an LTR label must start with a letter
  assert.equal(idnaHostProblem(['1api', 'xn--bcher-kva']), undefined, 'no right-to-left label: no bidi rule');
});

function refusedEverywhere(host: string): void {
  const bad = (fn: () => unknown, what: string): void =>
    assert.throws(fn, (err: unknown) => err instanceof SidecarError && err.code === 'BAD_TARGET', `${what}: ${host}`);
  assert.throws(() => normalizeHostName(host), HostSyntaxError, host);
  bad(() => parseAbsoluteTarget(`http://${host}/v1`), 'absolute-form');
  bad(() => parseAbsoluteTarget(`https://${host}:8443/`), 'absolute-form with a port');
  bad(() => parseConnectAuthority(`${host}:443`), 'CONNECT');
  bad(() => parseHostHeader(host, 'http'), 'Host header');
  const config = checkConfigHost(host, true);
  assert.ok(!config.ok && /is not a valid host/.test(config.message), `routes.yaml host: ${host}`);
}

test('every invalid label is refused as a host, alone, as a subdomain, as a TLD, and in any case', () => {
  for (const [label] of INVALID) {
    refusedEverywhere(label);
    refusedEverywhere(`${label}.example`);
    refusedEverywhere(`api.${label}`);
    refusedEverywhere(`${label.toUpperCase()}.example`);
  }
});

test('valid punycode hosts are accepted as written, lowercased', () => {
  assert.equal(parseAbsoluteTarget('http://xn--bcher-kva.example/x').host, 'xn--bcher-kva.example');
  assert.equal(parseAbsoluteTarget('http://XN--BCHER-KVA.Example./x').host, 'xn--bcher-kva.example');
  assert.deepEqual(parseConnectAuthority('xn--fiqs8s.xn--fiqs8s:443'), { host: 'xn--fiqs8s.xn--fiqs8s', port: 443 });
  assert.equal(parseHostHeader('api.xn--4dbrk0ce', 'http').host, 'api.xn--4dbrk0ce');
  assert.deepEqual(checkConfigHost('*.xn--p1ai.example', true), { ok: true, value: '*.xn--p1ai.example' });
  // labels that merely contain "xn--" are ordinary LDH labels
  assert.equal(normalizeHostName('abxn--c.example'), 'abxn--c.example');
  assert.equal(normalizeHostName('r3---sn-abc.example'), 'r3---sn-abc.example');
});
