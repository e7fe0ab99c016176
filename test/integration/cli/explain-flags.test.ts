/**
 * `explain --host` (origin-form with egress.host_header_form) and `explain --agent`
 * (gateway mode: the agent's routes, its `{agent}` credential path), through the CLI
 * command with its exit codes: 0 sent, 3 refused, 2 usage error.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { explainCommand } from '../../../src/cli/explain.js';
import { recordEvidence } from '../../helpers/evidence.js';

const dir = await mkdtemp(join(tmpdir(), 'explain-flags-'));
after(() => rm(dir, { recursive: true, force: true }));

const HASH = '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824';

async function file(name: string, yaml: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, `version: 1\nvault: { agent: a }\n${yaml}`);
  return path;
}

async function explain(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  const code = await explainCommand(args, {}, { stdout, stderr });
  recordEvidence('explain', [out, err]);
  return { code, out, err };
}

test('--host routes an origin-form URL by its Host header when host_header_form is on', async () => {
  const routes = 'routes:\n  - { name: openai, match: { host: api.openai.com, path: /v1/* }, credential: openai/api-key }\n';
  const on = await file('on.yaml', `egress: { host_header_form: true }\n${routes}`);
  const off = await file('off.yaml', routes);

  const routed = await explain(['GET', '/v1/models', '--host', 'api.openai.com', '--config', on]);
  assert.equal(routed.code, 0, routed.err);
  assert.match(routed.out, /^route\s+openai$/m);
  assert.match(routed.out, /^upstream\s+https:\/\/api\.openai\.com\/v1\/models$/m);

  const otherPath = await explain(['GET', '/v2/models', '--host', 'api.openai.com', '--config', on]);
  assert.equal(otherPath.code, 3);
  assert.match(otherPath.out, /^code\s+METHOD_DENIED$/m);

  const unrouted = await explain(['GET', '/x', '--host', 'example.test', '--config', on]);
  assert.equal(unrouted.code, 3);
  assert.match(unrouted.out, /^code\s+NO_ROUTE$/m);

  // Without the Host header, or with the form off, an origin-form URL needs a prefix.
  for (const args of [['GET', '/v1/models', '--config', on], ['GET', '/v1/models', '--host', 'api.openai.com', '--config', off]]) {
    const r = await explain(args);
    assert.equal(r.code, 3);
    assert.match(r.out, /^code\s+BAD_TARGET$/m);
  }
});

test('--agent checks the route against the agent and fills {agent} in the credential path', async () => {
  const gw = await file(
    'gw.yaml',
    `agents:
  - { name: alpha, token_sha256: ${HASH}, routes: [openai] }
  - { name: beta, token_sha256: ${HASH.replace(/^2/, '3')}, routes: [github] }
routes:
  - { name: openai, match: { host: api.openai.com }, credential: "openai/{agent}/api-key" }
  - { name: github, match: { host: api.github.com }, credential: github/token }
`,
  );
  const alpha = await explain(['POST', 'http://api.openai.com/v1/chat/completions', '--agent', 'alpha', '--config', gw]);
  assert.equal(alpha.code, 0, alpha.err);
  assert.match(alpha.out, /^credential\s+openai\/alpha\/api-key$/m);

  const beta = await explain(['POST', 'http://api.openai.com/v1/chat/completions', '--agent', 'beta', '--config', gw]);
  assert.equal(beta.code, 3);
  assert.match(beta.out, /^code\s+AGENT_ROUTE_DENIED$/m);

  const nobody = await explain(['GET', 'http://api.github.com/user', '--agent', 'nobody', '--config', gw, '--json']);
  assert.equal(nobody.code, 3);
  assert.equal((JSON.parse(nobody.out) as { code: string }).code, 'PROXY_AUTH_REQUIRED');

  const single = await file('single.yaml', 'routes:\n  - { name: gh, match: { host: api.github.com }, credential: github/token }\n');
  const usage = await explain(['GET', 'http://api.github.com/user', '--agent', 'alpha', '--config', single]);
  assert.equal(usage.code, 2);
  assert.match(usage.err, /^sanctum-sidecar explain: --agent needs gateway mode/);
});

test('a method that is not an HTTP token is a usage error', async () => {
  const r = await explain(['GE T', 'http://x.test/']);
  assert.equal(r.code, 2);
  assert.match(r.err, /'GE T' is not an HTTP method/);
});
