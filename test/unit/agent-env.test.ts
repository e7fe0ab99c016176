/**
 * The agent environment (`sanctum-sidecar env`), gateway mode: `--agent NAME
 * --token-env VAR` gives proxy and base URLs that carry the agent's name and a shell
 * reference to its token (never a token), which the shell expands when the lines are
 * sourced; only the agent's own routes, with its own placeholder; an agent with a
 * dedicated listener gets that listener and no token; bad names are refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { parseConfig } from '../../src/config/load.js';
import { agentEnv, AgentEnvError, CA_REPLACE_VARS } from '../../src/agent-env.js';
import { renderEnv } from '../../src/cli/agent-env.js';

const run = promisify(execFile);

const GATEWAY = `version: 1
listen: 0.0.0.0:8080
vault: { agent: gw, tcp: 127.0.0.1:7600, key_file: /keys/gw.key }
agents:
  - name: alpha
    token_sha256: ${'a'.repeat(64)}
    routes: [openai]
    placeholders: [sk-alpha-placeholder]
  - name: batch
    listen: 127.0.0.1:8181
    routes: [openai, anthropic]
routes:
  - name: openai
    match: { host: api.openai.com }
    prefix: /openai
    credential: openai/{agent}/api-key
  - name: anthropic
    prefix: /anthropic
    upstream: https://api.anthropic.com
    credential: anthropic/api-key
`;
const config = parseConfig(GATEWAY, '/etc/sanctum/routes.yaml', {});
const get = (vars: ReturnType<typeof agentEnv>, name: string): string | undefined => vars.find((v) => v.name === name)?.value;

test('--agent alpha --token-env VAR: the proxy and base URLs carry the name and a reference to the token', () => {
  const vars = agentEnv(config, { agent: 'alpha', tokenEnv: 'ALPHA_TOKEN' });
  for (const n of ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy']) {
    assert.equal(get(vars, n), 'http://alpha:${ALPHA_TOKEN}@127.0.0.1:8080', n);
    assert.deepEqual(vars.find((v) => v.name === n)?.refs, ['ALPHA_TOKEN']);
  }
  assert.equal(get(vars, 'OPENAI_BASE_URL'), 'http://127.0.0.1:8080/_agent/${ALPHA_TOKEN}/openai/v1');
  assert.equal(get(vars, 'OPENAI_API_KEY'), 'sk-alpha-placeholder', "the agent's own placeholder, which its tripwires know");
  assert.equal(get(vars, 'ANTHROPIC_BASE_URL'), undefined, 'alpha may not use anthropic');
  assert.equal(get(vars, 'NODE_USE_ENV_PROXY'), '1');
  assert.equal(get(vars, 'NO_PROXY'), 'localhost,127.0.0.1,::1');
  assert.match(vars[0]!.comment!, /agent alpha: .*ALPHA_TOKEN must hold the token/);
});

test('the default token variable is the one the chart sets', () => {
  assert.equal(get(agentEnv(config, { agent: 'alpha' }), 'HTTP_PROXY'), 'http://alpha:${SANCTUM_SIDECAR_PROXY_TOKEN}@127.0.0.1:8080');
});

test('the shell expands the token reference when the lines are sourced, and the file never holds the token', async () => {
  const lines = renderEnv(config, { agent: 'alpha', tokenEnv: 'ALPHA_TOKEN' });
  const text = lines.join('\n');
  assert.match(text, /^export HTTP_PROXY="http:\/\/alpha:\$\{ALPHA_TOKEN\}@127\.0\.0\.1:8080"$/m);
  const token = 'pt-0123456789abcdef';
  assert.ok(!text.includes(token));
  const { stdout } = await run('sh', ['-c', `${text}\nprintf '%s|%s' "$https_proxy" "$OPENAI_BASE_URL"`], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ALPHA_TOKEN: token },
  });
  assert.equal(stdout, `http://alpha:${token}@127.0.0.1:8080|http://127.0.0.1:8080/_agent/${token}/openai/v1`);
});

test('an agent with a dedicated listener is given that listener, without a token', () => {
  const vars = agentEnv(config, { agent: 'batch' });
  assert.equal(get(vars, 'HTTP_PROXY'), 'http://127.0.0.1:8181');
  assert.equal(vars.find((v) => v.name === 'HTTP_PROXY')?.refs, undefined);
  assert.equal(get(vars, 'ANTHROPIC_BASE_URL'), 'http://127.0.0.1:8181/anthropic');
  assert.equal(get(vars, 'ANTHROPIC_API_KEY'), 'sk-sanctum-placeholder');
  assert.ok(!vars.some((v) => v.value.includes('SANCTUM_SIDECAR_PROXY_TOKEN')));
});

test('--proxy-url moves every URL, and NO_PROXY gains its host', () => {
  const vars = agentEnv(config, { agent: 'alpha', proxyUrl: 'http://egress.agents.svc:8080' });
  assert.equal(get(vars, 'HTTPS_PROXY'), 'http://alpha:${SANCTUM_SIDECAR_PROXY_TOKEN}@egress.agents.svc:8080');
  assert.equal(get(vars, 'no_proxy'), 'localhost,127.0.0.1,::1,egress.agents.svc');
});

test('without --agent, gateway mode prints plain URLs and says how to authenticate', () => {
  const vars = agentEnv(config);
  assert.equal(get(vars, 'HTTP_PROXY'), 'http://127.0.0.1:8080');
  assert.match(vars[0]!.comment!, /Pass --agent NAME/);
  assert.ok(vars.every((v) => v.refs === undefined));
});

test('bad --agent and --token-env are refused with the fix', () => {
  assert.throws(() => agentEnv(config, { agent: 'gamma' }), (e: unknown) => e instanceof AgentEnvError && /no such agent .*agents: alpha, batch/.test(e.message));
  assert.throws(() => agentEnv(config, { agent: 'alpha', tokenEnv: 'X; rm -rf' }), /not an environment variable name/);
  assert.throws(() => agentEnv(config, { tokenEnv: 'T' }), /--token-env needs --agent/);
  const single = parseConfig('version: 1\nvault: { agent: a, tcp: 127.0.0.1:7600, key_file: /k }\nroutes: []\n', '/r.yaml', {});
  assert.throws(() => agentEnv(single, { agent: 'alpha' }), /not gateway mode/);
});

test('interception: ca.crt for Node, the bundle for every variable that replaces a trust store', () => {
  const withCa = parseConfig(GATEWAY.replace('agents:', 'tls: { ca_dir: /etc/sanctum/ca }\nagents:'), '/r.yaml', {});
  const vars = agentEnv(withCa, { agent: 'alpha' });
  assert.equal(get(vars, 'NODE_EXTRA_CA_CERTS'), '/etc/sanctum/ca/ca.crt');
  for (const n of CA_REPLACE_VARS) assert.equal(get(vars, n), '/etc/sanctum/ca/ca-bundle.crt', n);
  assert.deepEqual([...CA_REPLACE_VARS].sort(), ['AWS_CA_BUNDLE', 'CURL_CA_BUNDLE', 'GIT_SSL_CAINFO', 'REQUESTS_CA_BUNDLE', 'SSL_CERT_FILE']);
  const noBundle = agentEnv(withCa, { agent: 'alpha', bundleExists: false });
  assert.equal(get(noBundle, 'CURL_CA_BUNDLE'), '/etc/sanctum/ca/ca.crt');
});
