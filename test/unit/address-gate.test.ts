/**
 * The address gate (I8): every refused range in IPv4 and IPv6 and their IPv4-mapped
 * forms, NAT64/6to4/Teredo, the exemption rules (exact allow-list entries only, never
 * for metadata or link-local), the sidecar's own endpoints, one resolution whose every
 * answer is checked, and the addresses returned for dialling.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkDestination, classifyAddress, GateRefusal, isBlockedAddress, isOwnEndpoint, type GateOptions } from '../../src/egress/address-gate.js';
import { SidecarError } from '../../src/errors.js';

const REFUSED: Array<[string, string]> = [
  // IPv4
  ['0.0.0.0', 'unspecified'],
  ['0.1.2.3', 'unspecified'],
  ['127.0.0.1', 'loopback'],
  ['127.255.255.254', 'loopback'],
  ['10.0.0.1', 'private'],
  ['10.255.255.255', 'private'],
  ['172.16.0.1', 'private'],
  ['172.31.255.255', 'private'],
  ['192.168.1.1', 'private'],
  ['100.64.0.1', 'cgnat'],
  ['100.127.255.255', 'cgnat'],
  ['169.254.0.1', 'link_local'],
  ['169.254.169.254', 'metadata'],
  ['100.100.100.200', 'metadata'],
  ['168.63.129.16', 'metadata'],
  ['192.0.0.8', 'reserved'],
  ['192.0.2.1', 'documentation'],
  ['198.51.100.1', 'documentation'],
  ['203.0.113.1', 'documentation'],
  ['192.88.99.1', '6to4'],
  ['198.18.0.1', 'benchmarking'],
  ['224.0.0.1', 'multicast'],
  ['239.255.255.250', 'multicast'],
  ['240.0.0.1', 'reserved'],
  ['255.255.255.255', 'broadcast'],
  // IPv6
  ['::', 'unspecified'],
  ['::1', 'loopback'],
  ['0:0:0:0:0:0:0:1', 'loopback'],
  ['fc00::1', 'ula'],
  ['fd12:3456::1', 'ula'],
  ['fd00:ec2::254', 'metadata'],
  ['fe80::1', 'link_local'],
  ['febf::1', 'link_local'],
  ['fec0::1', 'site_local'],
  ['ff02::1', 'multicast'],
  ['64:ff9b::7f00:1', 'nat64'],
  ['64:ff9b::808:808', 'nat64'],
  ['64:ff9b:1::1', 'nat64'],
  ['2002:7f00:1::', '6to4'],
  ['2002:808:808::1', '6to4'],
  ['2001::1', 'teredo'],
  ['2001:db8::1', 'documentation'],
  ['3fff::1', 'documentation'],
  ['100::1', 'reserved'],
  ['::7f00:1', 'ipv4_compatible'],
  ['::ffff:0:7f00:1', 'ipv4_compatible'],
  ['4000::1', 'reserved'],
  // IPv4-mapped IPv6: the embedded IPv4 address decides
  ['::ffff:127.0.0.1', 'loopback'],
  ['::ffff:7f00:1', 'loopback'],
  ['0:0:0:0:0:ffff:7f00:1', 'loopback'],
  ['::FFFF:127.0.0.1', 'loopback'],
  ['::ffff:10.1.2.3', 'private'],
  ['::ffff:a01:203', 'private'],
  ['::ffff:169.254.169.254', 'metadata'],
  ['::ffff:a9fe:a9fe', 'metadata'],
  ['::ffff:100.64.0.1', 'cgnat'],
  ['::ffff:0.0.0.0', 'unspecified'],
  ['::ffff:224.0.0.1', 'multicast'],
  ['::ffff:192.168.0.1', 'private'],
];

const ALLOWED = ['8.8.8.8', '1.1.1.1', '93.184.216.34', '172.32.0.1', '100.128.0.1', '169.253.255.255', '2606:4700::1111', '2a00:1450:4001::1', '::ffff:8.8.8.8', '2001:4860:4860::8888'];

test('every refused range is classified, including IPv4-mapped spellings', () => {
  for (const [addr, reason] of REFUSED) {
    assert.equal(classifyAddress(addr), reason, addr);
    assert.equal(isBlockedAddress(addr), true, addr);
  }
});

test('public addresses pass', () => {
  for (const addr of ALLOWED) assert.equal(classifyAddress(addr), null, addr);
});

test('anything that is not an address is refused', () => {
  for (const s of ['localhost', '', '1.2.3', '::g', '127.0.0.1.']) assert.equal(classifyAddress(s), 'not_an_address', s);
});

function opts(over: Partial<GateOptions> & { answers?: Record<string, string[]> } = {}): GateOptions & { lookups: string[] } {
  const lookups: string[] = [];
  const answers = over.answers ?? {};
  return {
    blockPrivate: true,
    ownEndpoints: () => [],
    resolve: async (h) => {
      lookups.push(h);
      const a = answers[h];
      if (a === undefined) throw Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' });
      return a.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    },
    ...over,
    lookups,
  };
}

async function refusal(p: Promise<unknown>): Promise<{ code: string; reason: string | undefined }> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof SidecarError);
    return { code: err.code, reason: err.cause instanceof GateRefusal ? err.cause.reason : undefined };
  }
  throw new Error('expected a refusal');
}

test('a name is resolved once and every answer is checked: one private answer refuses the name', async () => {
  const o = opts({ answers: { 'rebind.example': ['93.184.216.34', '127.0.0.1'] } });
  assert.deepEqual(await refusal(checkDestination('rebind.example', 443, o)), { code: 'ADDRESS_BLOCKED', reason: 'loopback' });
  assert.deepEqual(o.lookups, ['rebind.example']);
});

test('the checked addresses are returned for dialling, in resolver order', async () => {
  const o = opts({ answers: { 'ok.example': ['2606:4700::1111', '93.184.216.34'] } });
  const c = await checkDestination('ok.example', 443, o);
  assert.equal(c.address, '2606:4700::1111');
  assert.equal(c.family, 6);
  assert.deepEqual(c.all, [
    { address: '2606:4700::1111', family: 6 },
    { address: '93.184.216.34', family: 4 },
  ]);
  assert.deepEqual(o.lookups, ['ok.example']);
});

test('IP literals are checked without a lookup', async () => {
  const o = opts();
  assert.deepEqual(await refusal(checkDestination('169.254.169.254', 80, o)), { code: 'ADDRESS_BLOCKED', reason: 'metadata' });
  assert.deepEqual(await refusal(checkDestination('::ffff:7f00:1', 80, o)), { code: 'ADDRESS_BLOCKED', reason: 'loopback' });
  assert.equal((await checkDestination('8.8.8.8', 53, o)).address, '8.8.8.8');
  assert.deepEqual(o.lookups, []);
});

test('an exact allow-listed host may resolve to loopback, private, CGNAT, ULA or NAT64 addresses', async () => {
  const answers = { 'mirror.internal': ['10.0.0.5'], 'dev.internal': ['127.0.0.1'], 'cg.internal': ['100.64.1.1'], 'v6.internal': ['fd00::5'], 'n64.internal': ['64:ff9b::a00:5'] };
  const o = opts({ answers, exemptHosts: new Set(Object.keys(answers)) });
  for (const h of Object.keys(answers)) assert.equal((await checkDestination(h, 443, o)).address, answers[h as keyof typeof answers][0], h);
});

test('the exemption never covers metadata, link-local, multicast, unspecified or 6to4 answers', async () => {
  const answers = { a: ['169.254.169.254'], b: ['fe80::1'], c: ['224.0.0.1'], d: ['0.0.0.0'], e: ['2002:7f00:1::'], f: ['fd00:ec2::254'] };
  const o = opts({ answers, exemptHosts: new Set(Object.keys(answers)) });
  for (const h of Object.keys(answers)) assert.equal((await refusal(checkDestination(h, 443, o))).code, 'ADDRESS_BLOCKED', h);
});

test('the exemption is for the exact name only: another name resolving to the same address is refused', async () => {
  const o = opts({ answers: { 'mirror.internal': ['10.0.0.5'], 'other.internal': ['10.0.0.5'] }, exemptHosts: new Set(['mirror.internal']) });
  assert.equal((await checkDestination('mirror.internal', 443, o)).address, '10.0.0.5');
  assert.deepEqual(await refusal(checkDestination('other.internal', 443, o)), { code: 'ADDRESS_BLOCKED', reason: 'private' });
});

test('block_private_addresses: false allows private ranges but never metadata or own endpoints', async () => {
  const o = opts({ blockPrivate: false, answers: { db: ['10.0.0.5'], imds: ['169.254.169.254'] }, ownEndpoints: () => [{ host: '127.0.0.1', port: 8080 }] });
  assert.equal((await checkDestination('db', 5432, o)).address, '10.0.0.5');
  assert.equal((await checkDestination('127.0.0.1', 9999, o)).address, '127.0.0.1');
  assert.deepEqual(await refusal(checkDestination('imds', 80, o)), { code: 'ADDRESS_BLOCKED', reason: 'metadata' });
  assert.deepEqual(await refusal(checkDestination('127.0.0.1', 8080, o)), { code: 'ADDRESS_BLOCKED', reason: 'own_endpoint' });
});

test("the sidecar's own endpoints and the vault are refused under any local spelling, and for exempt hosts", async () => {
  const own = [
    { host: '127.0.0.1', port: 8080 },
    { host: '0.0.0.0', port: 9090 },
    { host: '::1', port: 7600 },
  ];
  for (const [addr, port] of [
    ['127.0.0.1', 8080],
    ['127.0.0.2', 8080],
    ['::ffff:127.0.0.1', 8080],
    ['::1', 8080],
    ['0.0.0.0', 8080],
    ['127.0.0.1', 9090],
    ['::', 9090],
    ['127.0.0.1', 7600],
    ['::ffff:7f00:1', 7600],
  ] as const) {
    assert.equal(isOwnEndpoint(addr, port, own), true, `${addr}:${port}`);
  }
  assert.equal(isOwnEndpoint('127.0.0.1', 8081, own), false);
  assert.equal(isOwnEndpoint('93.184.216.34', 8080, own), false);
  const o = opts({ answers: { localhost: ['127.0.0.1'] }, exemptHosts: new Set(['localhost']), ownEndpoints: () => own });
  assert.deepEqual(await refusal(checkDestination('localhost', 7600, o)), { code: 'ADDRESS_BLOCKED', reason: 'own_endpoint' });
});

test('resolution failures and empty answers are UPSTREAM_UNREACHABLE; a slow resolver times out', async () => {
  assert.equal((await refusal(checkDestination('missing.example', 443, opts()))).code, 'UPSTREAM_UNREACHABLE');
  assert.equal((await refusal(checkDestination('empty.example', 443, opts({ answers: { 'empty.example': [] } })))).code, 'UPSTREAM_UNREACHABLE');
  const slow = opts({ resolve: () => new Promise(() => undefined), resolveTimeoutMs: 30 });
  assert.equal((await refusal(checkDestination('slow.example', 443, slow))).code, 'UPSTREAM_UNREACHABLE');
});
