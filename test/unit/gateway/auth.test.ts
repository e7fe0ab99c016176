// Gateway authentication: parsing Proxy-Authorization and the /_agent/ segment, and the
// rule that every credential presented must be valid and name the same agent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { parseConfig } from '../../../src/config/load.js';
import { SidecarError } from '../../../src/errors.js';
import { Gateway } from '../../../src/gateway/agents.js';
import { identify, parseProxyAuthorization, splitAgentSegment, type Presented } from '../../../src/gateway/auth.js';

const sha = (t: string): string => createHash('sha256').update(t).digest('hex');
const A = 'token-alpha-0123456789';
const B = 'token-beta-9876543210';
const gw = new Gateway(
  parseConfig(
    `version: 1
vault: { agent: gw }
routes: [ { name: r, match: { host: r.test } } ]
agents:
  - { name: alpha, token_sha256: ${sha(A)}, routes: [r] }
  - { name: beta, token_sha256: ${sha(B).toUpperCase()}, routes: [r], listen: "127.0.0.1:7001" }
  - { name: door, routes: [r], listen: "127.0.0.1:7002" }
`,
    't.yaml',
    {},
  ),
);
const b64 = (s: string): string => Buffer.from(s).toString('base64');
const p = (x: Partial<Presented>): Presented => ({ header: null, segment: null, listener: null, ...x });
const who = (x: Partial<Presented>): string | null => {
  try {
    return identify(gw, p(x)).agent.name;
  } catch (err) {
    assert.ok(err instanceof SidecarError && err.code === 'PROXY_AUTH_REQUIRED' && err.status === 407);
    return null;
  }
};

test('Proxy-Authorization: Basic name:token and Bearer token, schemes case-insensitive', () => {
  assert.deepEqual(parseProxyAuthorization(`Bearer ${A}`), { token: A, name: null });
  assert.deepEqual(parseProxyAuthorization(`bEaReR   ${A}  `), { token: A, name: null });
  assert.deepEqual(parseProxyAuthorization(`Basic ${b64(`alpha:${A}`)}`), { token: A, name: 'alpha' });
  assert.deepEqual(parseProxyAuthorization(`Basic ${b64(`:${A}`)}`), { token: A, name: null }, 'no user name: no claim');
  assert.deepEqual(parseProxyAuthorization(`Basic ${b64('alpha:a:b')}`), { token: 'a:b', name: 'alpha' }, 'the token may hold colons');
  assert.equal(parseProxyAuthorization(undefined), null);
  for (const bad of ['', 'Bearer', 'Bearer ', `Basic ${b64('alpha')}`, `Basic ${b64('alpha:')}`, 'Basic !!!', `Token ${A}`, A]) {
    assert.equal(parseProxyAuthorization(bad), 'malformed', JSON.stringify(bad));
  }
});

test('the /_agent/<token> segment is split off the target, query kept', () => {
  assert.deepEqual(splitAgentSegment(`/_agent/${A}/openai/v1/x?y=1`), { token: A, url: '/openai/v1/x?y=1' });
  assert.deepEqual(splitAgentSegment(`/_agent/${A}?y=1`), { token: A, url: '/?y=1' });
  assert.deepEqual(splitAgentSegment(`/_agent/${A}`), { token: A, url: '/' });
  assert.deepEqual(splitAgentSegment('/_agent//x'), { token: '', url: '/x' });
  assert.equal(splitAgentSegment('/openai/_agent/x'), null);
  assert.equal(splitAgentSegment('/_agentx/y'), null);
  assert.equal(splitAgentSegment('/_agent'), null);
});

test('tokens are compared exactly against the stored hashes (any hex case in the file)', () => {
  assert.equal(gw.authenticate(A)?.name, 'alpha');
  assert.equal(gw.authenticate(B)?.name, 'beta');
  assert.equal(gw.authenticate(A.toUpperCase()), null);
  assert.equal(gw.authenticate(`${A} `), null);
  assert.equal(gw.authenticate(''), null);
  assert.equal(gw.authenticate(sha(A)), null, 'the hash itself is not a token');
});

test('every credential presented must be valid and name the same agent', () => {
  assert.equal(who({ header: { token: A, name: null } }), 'alpha');
  assert.equal(who({ header: { token: A, name: 'alpha' } }), 'alpha');
  assert.equal(who({ header: { token: A, name: 'beta' } }), null, 'Basic name of another agent');
  assert.equal(who({ segment: B }), 'beta');
  assert.equal(who({ segment: A, header: { token: A, name: null } }), 'alpha');
  assert.equal(who({ segment: A, header: { token: B, name: null } }), null, 'two agents');
  assert.equal(who({ segment: 'nope', header: { token: A, name: null } }), null, 'one invalid credential spoils the rest');
  assert.equal(who({ listener: '127.0.0.1:7002' }), 'door', 'a dedicated listener needs no token');
  assert.equal(who({ listener: '127.0.0.1:7001', header: { token: B, name: null } }), 'beta');
  assert.equal(who({ listener: '127.0.0.1:7001', header: { token: A, name: null } }), null);
  assert.equal(who({ listener: '127.0.0.1:9999' }), null, 'a listener no agent owns');
  assert.equal(who({ header: 'malformed' }), null);
  assert.equal(who({}), null, 'nothing presented');
  assert.equal(identify(gw, p({ segment: A })).token, A, 'the presented token is kept for the tripwire');
});
