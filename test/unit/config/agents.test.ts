// Loading gateway mode: the agents section, rate limits and {agent} templates convert
// to their domain shapes; a file without agents stays a single-agent config.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../../src/config/load.js';
import { buildSnapshot } from '../../../src/proxy/snapshot.js';

const HASH = '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824';

test('an agents section converts to domain agents', () => {
  const c = parseConfig(
    `version: 1
vault: { agent: gateway, socket: /run/v.sock, key_file: /keys/gw.key }
routes:
  - { name: openai, match: { host: api.openai.com }, credential: "openai/{agent}/key", rate_limit: { requests: 100, per: minute, max_streams: 4 } }
  - { name: docs, match: { host: docs.test } }
agents:
  - name: alpha
    token_sha256: ${HASH.toUpperCase()}
    vault: { agent: alpha, key_file: keys/alpha.key, passphrase_env: ALPHA_PASS }
    routes: [openai, docs]
    placeholders: [sk-alpha-placeholder, sk-alpha-placeholder]
    listen: 127.0.0.1:8181
    rate_limit: { requests: 10, per: second, burst: 20 }
  - { name: beta, routes: [], listen: "127.0.0.1:0" }
`,
    't.yaml',
    {},
    { baseDir: '/etc/sc' },
  );
  assert.deepEqual(c.agents[0], {
    name: 'alpha',
    tokenSha256: HASH,
    vault: { agent: 'alpha', keyFile: '/etc/sc/keys/alpha.key', passphraseEnv: 'ALPHA_PASS' },
    routes: ['openai', 'docs'],
    placeholders: ['sk-alpha-placeholder'],
    listen: { host: '127.0.0.1', port: 8181 },
    rateLimit: { bucket: { requests: 10, perMs: 1000, burst: 20 }, maxStreams: undefined },
    line: 7,
  });
  assert.equal(c.agents[1]!.tokenSha256, undefined);
  assert.equal(c.agents[1]!.vault, undefined);
  assert.deepEqual(c.routes[0]!.rateLimit, { bucket: { requests: 100, perMs: 60_000, burst: 100 }, maxStreams: 4 });
  assert.ok(!('rateLimit' in c.routes[1]!), 'absent when not configured');

  const snap = buildSnapshot(c, 1);
  const alpha = snap.gateway!.agents.get('alpha')!;
  assert.equal(alpha.credentialPaths.get('openai'), 'openai/alpha/key');
  assert.equal(alpha.vault!.socket, '/run/v.sock', 'the endpoint is the top-level vault');
  assert.equal(alpha.vault!.agent, 'alpha');
  assert.equal(snap.gateway!.agents.get('beta')!.vault, null, 'no vault: the top-level identity');
  assert.deepEqual([...snap.gateway!.vaultKeys()].length, 2);
});

test('without agents: no gateway, and {agent} is the vault agent', () => {
  const c = parseConfig(
    'version: 1\nvault: { agent: solo }\nroutes:\n  - { name: r, match: { host: r.test }, credential: "r/{agent}" }\n',
    't.yaml',
    {},
  );
  assert.deepEqual(c.agents, []);
  const snap = buildSnapshot(c, 1);
  assert.equal(snap.gateway, null);
  assert.equal(snap.credentialPaths.get('r'), 'r/solo');
});
