// Tripwire needles per destination and the header/target search.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { parseConfig } from '../../../src/config/load.js';
import { Gateway } from '../../../src/gateway/agents.js';
import { scanHeadersAndTarget, searchableToken } from '../../../src/gateway/tripwire.js';

const sha = (t: string): string => createHash('sha256').update(t).digest('hex');
const config = parseConfig(
  `version: 1
vault: { agent: gw }
routes:
  - { name: openai, match: { host: api.openai.com }, credential: openai/key }
  - { name: anth, match: { host: api.anthropic.com }, credential: anth/key, inject: { header_type: custom, header_name: x-key }, keep_cookies: true }
  - { name: docs, match: { host: docs.test } }
agents:
  - { name: alpha, token_sha256: ${sha('tok-alpha-1234')}, routes: [openai, docs], placeholders: [ph-alpha-0001, ph-shared-0003] }
  - { name: beta, token_sha256: ${sha('tok-beta-12345')}, routes: [anth], placeholders: [ph-beta-00002, ph-shared-0003] }
`,
  't.yaml',
  {},
);
const gw = new Gateway(config);
const route = (n: string) => config.routes.find((r) => r.name === n)!;
const texts = (n: string | null) => gw.tripwires.forRoute(n === null ? null : route(n)).map((x) => x.text).sort();

test("a placeholder may travel only to its owners' credential routes", () => {
  assert.deepEqual(texts('openai'), ['ph-beta-00002']);
  assert.deepEqual(texts('anth'), ['ph-alpha-0001']);
  assert.deepEqual(texts('docs'), ['ph-alpha-0001', 'ph-beta-00002', 'ph-shared-0003'], 'a route without a credential is no home');
  assert.deepEqual(texts(null), ['ph-alpha-0001', 'ph-beta-00002', 'ph-shared-0003'], 'nor is passthrough');
});

test('headers the route replaces are not searched; everything else that leaves is', () => {
  const n = gw.tripwires.forRoute(route('anth'));
  const scan = (headers: Record<string, string>, path = '/', query = '') => scanHeadersAndTarget(n, null, headers, route('anth'), path, query);
  assert.equal(scan({ authorization: 'Bearer ph-alpha-0001', 'x-key': 'ph-alpha-0001', 'api-key': 'ph-alpha-0001' }), null);
  assert.deepEqual(scan({ cookie: 'k=ph-alpha-0001' }), { kind: 'placeholder', where: 'header' }, 'cookies are kept on this route');
  assert.deepEqual(scan({ 'x-other': 'a ph-alpha-0001 b' }), { kind: 'placeholder', where: 'header' });
  assert.deepEqual(scan({}, '/v1/ph-alpha-0001'), { kind: 'placeholder', where: 'target' });
  assert.deepEqual(scan({}, '/', '?k=ph%2Dalpha%2D0001'), { kind: 'placeholder', where: 'target' });
  assert.equal(scan({}, '/', '?k=%E0%A4%A'), null, 'undecodable queries are searched as sent');
  const plain = scanHeadersAndTarget(gw.tripwires.forRoute(route('docs')), null, { authorization: 'Bearer ph-shared-0003' }, route('docs'), '/', '');
  assert.deepEqual(plain, { kind: 'placeholder', where: 'header' }, 'a plain route forwards Authorization as is');
});

test('the presented proxy token trips anywhere but Proxy-Authorization', () => {
  const token = searchableToken('tok-alpha-1234');
  const n = gw.tripwires.forRoute(route('openai'));
  assert.equal(scanHeadersAndTarget(n, token, { 'proxy-authorization': 'Bearer tok-alpha-1234' }, route('openai'), '/', ''), null);
  assert.deepEqual(scanHeadersAndTarget(n, token, { 'x-a': 'tok-alpha-1234' }, route('openai'), '/', ''), { kind: 'proxy_token', where: 'header' });
  assert.equal(searchableToken('short'), null, 'very short tokens are not searched for');
  assert.equal(searchableToken(null), null);
});
