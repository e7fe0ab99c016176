// dev-vault.yaml: the example file loads; bad files name the path and line; globs and policies decide as documented.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DevVaultConfigError, loadDevVaultFile, parseDuration, parseListen, settingsFromConfig } from '../../../src/devvault/config.js';
import { compilePolicy, decide, globToRegExp } from '../../../src/devvault/policy.js';

test('the repository dev-vault.yaml loads', async () => {
  const s = await loadDevVaultFile(join(import.meta.dirname, '../../../dev-vault.yaml'), { GITHUB_TOKEN: 'ghp_x' });
  assert.deepEqual(s.listen, { host: '127.0.0.1', port: 7600 });
  assert.equal(s.agents.size, 1);
  assert.equal(s.credentials.get('github/token')?.value, 'ghp_x');
  assert.equal(s.credentials.get('openai/api-key')?.value, 'sk-dev-placeholder');
  assert.equal(s.sessionTtlMs, 3_600_000);
  assert.equal(s.allowLoopback, false);
});

test('an env credential whose variable is unset loads as absent', () => {
  const s = settingsFromConfig({ credentials: { a: { env: 'NOPE_NOT_SET' } } }, {});
  assert.equal(s.credentials.get('a')?.value, undefined);
  assert.equal(s.credentials.get('a')?.env, 'NOPE_NOT_SET');
});

test('every problem is reported with its YAML path and line', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sanctum-dvc-'));
  try {
    const f = join(dir, 'bad.yaml');
    await writeFile(
      f,
      [
        'listen: nowhere',
        'agents:',
        '  a: { public_key: abcd }',
        'credentials:',
        '  x: { value: v, env: E }',
        'policies:',
        '  - { principal: "bob", resources: ["*"], actions: [use, delete] }',
        'session_ttl: forever',
        'typo_key: 1',
      ].join('\n'),
    );
    await assert.rejects(loadDevVaultFile(f, {}), (e: unknown) => {
      assert.ok(e instanceof DevVaultConfigError);
      const msg = e.message;
      for (const [line, path] of [[1, 'listen'], [3, 'agents.a.public_key'], [5, 'credentials.x'], [7, 'policies.0.principal'], [7, 'policies.0.actions'], [8, 'session_ttl'], [9, 'typo_key']] as const) {
        assert.ok(msg.includes(`bad.yaml:${line} at ${path}`), `missing ${path} at line ${line} in:\n${msg}`);
      }
      return true;
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('YAML syntax errors (a duplicate key) are reported with their line', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sanctum-dvc-'));
  try {
    const f = join(dir, 'dup.yaml');
    await writeFile(f, 'agents: {}\nallow_loopback: true\nallow_loopback: false\n');
    await assert.rejects(loadDevVaultFile(f, {}), (e: unknown) => e instanceof DevVaultConfigError && /dup\.yaml:3: YAML syntax/.test(e.message));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('listen and duration syntax', () => {
  assert.deepEqual(parseListen('127.0.0.1:7600'), { host: '127.0.0.1', port: 7600 });
  assert.deepEqual(parseListen('[::1]:0'), { host: '::1', port: 0 });
  assert.equal(parseListen('host'), undefined);
  assert.equal(parseListen('h:99999'), undefined);
  assert.equal(parseDuration('1h'), 3_600_000);
  assert.equal(parseDuration('30s'), 30_000);
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration(2), 2000);
  assert.equal(parseDuration('0s'), undefined);
});

test('globs: * crosses /, everything else is literal', () => {
  assert.ok(globToRegExp('openai/*').test('openai/org/key'));
  assert.ok(globToRegExp('*').test('a/b/c'));
  assert.ok(!globToRegExp('openai/*').test('openaiX/key'));
  assert.ok(!globToRegExp('a.b').test('axb'));
  assert.ok(globToRegExp('agent:team-*').test('agent:team-1'));
});

test('policy decisions: ACCESS_DENIED without a grant, POLICY_DENIED when a condition refuses', () => {
  const policies = [
    compilePolicy({ name: 'web', principal: 'agent:web-*', resources: ['stripe/*'], actions: ['use'], allowed_operations: ['http_request'], allowed_domains: ['api.stripe.com', '*.stripe.com'] }, 0),
    compilePolicy({ principal: 'agent:*', resources: ['public/*'], actions: ['list', 'retrieve'] }, 1),
  ];
  assert.deepEqual(decide(policies, { agent: 'web-1', action: 'use', path: 'stripe/key', operation: 'http_request', host: 'API.Stripe.com' }), { allowed: true, policy: 'web' });
  assert.equal(decide(policies, { agent: 'web-1', action: 'use', path: 'stripe/key', operation: 'http_header' }).allowed, false);
  const op = decide(policies, { agent: 'web-1', action: 'use', path: 'stripe/key', operation: 'http_header' });
  assert.ok(!op.allowed && op.code === 'POLICY_DENIED');
  const dom = decide(policies, { agent: 'web-1', action: 'use', path: 'stripe/key', operation: 'http_request', host: 'evil.example' });
  assert.ok(!dom.allowed && dom.code === 'POLICY_DENIED' && /evil\.example/.test(dom.reason));
  const none = decide(policies, { agent: 'other', action: 'use', path: 'stripe/key' });
  assert.ok(!none.allowed && none.code === 'ACCESS_DENIED');
  assert.equal(decide(policies, { agent: 'other', action: 'retrieve', path: 'public/x' }).allowed, true);
  assert.equal(decide(policies, { agent: 'other', action: 'use', path: 'public/x' }).allowed, false);
});
