// `check` output: the redacted summary and the lint warnings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../../src/config/load.js';
import { lintConfig, summarizeConfig } from '../../../src/config/summary.js';

const RISKY = `version: 1
listen: 0.0.0.0:8080
vault: { agent: a, tcp: "\${VAULT_TCP}" }
egress: { unmatched: passthrough, allow: ["*.pythonhosted.org", api.github.com], block_private_addresses: false, host_header_form: true }
routes:
  - name: plain
    match: { host: internal.test }
    upstream: http://internal.test
    credential: internal/token
    allow_plaintext: true
  - name: wild
    match: { host: "*.corp.test" }
    upstream: https://gw.corp.test
    allow_wildcard_host: true
    credential: corp/token
  - name: cached
    match: { host: api.github.com }
    credential: github/token
    cache_ttl: 5m
    keep_cookies: true
  - name: pay
    match: { host: api.stripe.com }
    credential: stripe/secret
    mode: delegate
    cache_ttl: 10s
`;

test('lint warns on plaintext, wildcards, passthrough, host-header form, caching, TCP vault, exposed listener', () => {
  const w = lintConfig(parseConfig(RISKY, 'risky.yaml', { VAULT_TCP: '127.0.0.1:7600' })).join('\n');
  for (const re of [
    /listen 0\.0\.0\.0:8080 is not loopback/,
    /vault\.tcp: .*prefer vault\.socket/,
    /egress\.unmatched: passthrough/,
    /block_private_addresses: false/,
    /host_header_form: on/,
    /egress\.allow \*\.pythonhosted\.org: a wildcard/,
    /egress\.allow api\.github\.com: .*route cached/,
    /route plain: the credential travels over plain http/,
    /route wild: wildcard host \*\.corp\.test/,
    /route cached: cache_ttl 5m keeps the credential in sidecar memory/,
    /route cached: keep_cookies/,
    /route pay: cache_ttl has no effect in delegate mode/,
  ]) {
    assert.match(w, re);
  }
});

test('a safe config lints clean', () => {
  const c = parseConfig('version: 1\nvault: { agent: a }\nroutes:\n  - name: gh\n    match: { host: api.github.com }\n    credential: github/token\n', 't', {});
  assert.deepEqual(lintConfig(c), []);
});

test('the summary lists every setting and route without secret-named environment values', () => {
  const c = parseConfig(RISKY, 'risky.yaml', { VAULT_TCP: '127.0.0.1:7600' });
  const s = summarizeConfig(c);
  assert.match(s, /^risky\.yaml: version 1, config hash [0-9a-f]{16}/);
  assert.match(s, /listen 0\.0\.0\.0:8080; admin 127\.0\.0\.1:9090/);
  assert.match(s, /vault: agent a via tcp 127\.0\.0\.1:7600/);
  assert.match(s, /routes \(4\):/);
  assert.match(s, /plain: host internal\.test; any path; any method\n {4}-> http:\/\/internal\.test; credential internal\/token \(inject, bearer\); plaintext allowed/);
  assert.match(s, /pay: .*\n.*credential stripe\/secret \(delegate, bearer\); cache 10s, max body 1 MiB/);
});

test('values interpolated into secret-sounding settings are shown as [from environment]', () => {
  const c = parseConfig(
    'version: 1\nvault: { agent: a, passphrase_env: "${PASS_VAR}" }\nroutes:\n  - name: r\n    match: { host: r.test }\n    credential: "${TOKEN_PATH}"\n',
    't',
    { PASS_VAR: 'KEY_PASSPHRASE', TOKEN_PATH: 'team/token' },
  );
  const s = summarizeConfig(c);
  // The likeliest accident is the key itself where its vault path belongs: never echo it.
  assert.match(s, /credential \[from environment\] \(inject, bearer\)/);
  assert.ok(!s.includes('team/token'));
  assert.match(lintConfig(c).join('\n'), /route r: credential comes from the environment; it must be a vault path/);
  // An environment variable NAME is not a secret.
  assert.match(s, /passphrase from \$KEY_PASSPHRASE/);
  // Nothing else in the summary comes from the environment.
  assert.deepEqual(c.envPaths, ['vault.passphrase_env', 'routes[0].credential']);
});

test('gateway mode: agents are summarised; the main listener may be exposed, a token-less one is flagged', () => {
  const c = parseConfig(
    `version: 1
listen: 0.0.0.0:8080
vault: { agent: gw }
routes:
  - { name: openai, match: { host: api.openai.com }, credential: "openai/{agent}", rate_limit: { requests: 5, per: minute } }
agents:
  - { name: alpha, token_sha256: 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824, vault: { agent: alpha, key_file: /k/alpha.key }, routes: [openai], placeholders: [sk-alpha-placeholder], rate_limit: { requests: 10, per: second, max_streams: 3 } }
  - { name: door, routes: [openai], listen: "0.0.0.0:8181" }
`,
    'gw.yaml',
    {},
  );
  const s = summarizeConfig(c);
  assert.match(s, /agents \(2, gateway mode\):/);
  assert.match(s, /alpha: routes openai; proxy token; vault identity alpha \(key file \/k\/alpha\.key\); rate limit 10\/s \(burst 10\), 3 streams; 1 placeholder\(s\) watched/);
  assert.match(s, /door: routes openai; own listener 0\.0\.0\.0:8181; top-level vault identity/);
  assert.match(s, /rate limit 5\/min \(burst 5\)/);
  assert.ok(!s.includes('2cf24dba'), 'token hashes are not printed');
  const w = lintConfig(c).join('\n');
  assert.ok(!/listen 0\.0\.0\.0:8080 is not loopback/.test(w), 'the gateway listener requires a token');
  assert.match(w, /agent door: listen 0\.0\.0\.0:8181 is not loopback: anyone who can reach it acts as door, without a token/);
  assert.match(lintConfig(parseConfig('version: 1\nvault: { agent: solo }\nroutes:\n  - { name: r, match: { host: r.test }, credential: "r/{agent}" }\n', 't', {})).join('\n'), /\{agent\} in the credential path is vault\.agent \(solo\)/);
});

test('lint: response_guard off, and a non-loopback admin listener with or without admin_detail', () => {
  const base = 'version: 1\nvault: { agent: a }\nroutes:\n  - name: gh\n    match: { host: api.github.com }\n    credential: github/token\n';
  assert.match(lintConfig(parseConfig(`${base}    response_guard: off\n`, 't', {})).join('\n'), /route gh: response_guard: off; an upstream that echoes the injected credential hands it to the agent/);
  assert.match(lintConfig(parseConfig(`${base}admin: 0.0.0.0:9090\n`, 't', {})).join('\n'), /admin 0\.0\.0\.0:9090 is not loopback: \/metrics is reachable .*admin_detail: true turns them on/);
  assert.match(lintConfig(parseConfig(`${base}admin: 0.0.0.0:9090\nadmin_detail: true\n`, 't', {})).join('\n'), /admin_detail is true: \/routes and \/explain describe agents, routes and vault paths/);
});
