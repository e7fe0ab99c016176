/**
 * `ca init` and `env` as a user runs them, and the sidecar refusing an unsafe CA key:
 * `ca init --out DIR` writes ca.crt 0644 and ca.key 0600 and refuses to overwrite
 * without --force; `env --config routes.yaml` prints export lines a shell accepts
 * (proxy variables in both cases, NODE_USE_ENV_PROXY, NO_PROXY, CA variables with the replace-not-add note,
 * base URLs and placeholder keys); `run` with a world-readable CA key refuses to start.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PassThrough } from 'node:stream';
import { throwawayKeyFile } from '../../helpers/sidecar-rig.js';
import { runCaCommand } from '../../../src/cli/ca.js';
import { runEnvCommand } from '../../../src/cli/env.js';

const run = promisify(execFile);

/** The command in-process (fast); the binary itself is exercised once per command below. */
async function inProcess(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (c: Buffer) => (stdout += c.toString()));
  err.on('data', (c: Buffer) => (stderr += c.toString()));
  const io = { stdout: out, stderr: err };
  const code = args[0] === 'ca' ? await runCaCommand(args.slice(1), io) : await runEnvCommand(args.slice(1), {}, io);
  return { code, stdout, stderr };
}

async function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], { env: { ...process.env, ...env }, timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

test('ca init writes ca.crt 0644 and ca.key 0600, and refuses to overwrite without --force', async () => {
  const dir = join(await mkdtemp(join(tmpdir(), 'ca-cli-')), 'ca');
  const first = await cli(['ca', 'init', '--out', dir]);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /sha256 {7}([0-9A-F]{2}:){31}[0-9A-F]{2}/);
  assert.match(first.stdout, /tls: \{ ca_dir: /);
  assert.equal((await stat(join(dir, 'ca.key'))).mode & 0o777, 0o600);
  assert.equal((await stat(join(dir, 'ca.crt'))).mode & 0o777, 0o644);

  const again = await inProcess(['ca', 'init', '--out', dir]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /already exists; pass --force/);
  assert.equal((await inProcess(['ca', 'init', '--out', dir, '--force'])).code, 0);

  assert.equal((await inProcess(['ca', 'init'])).code, 2);
  assert.equal((await inProcess(['ca', 'make', '--out', dir])).code, 2);
});

async function routesFile(caDir: string, keyFile: string): Promise<string> {
  const path = join(await mkdtemp(join(tmpdir(), 'env-cli-')), 'routes.yaml');
  await writeFile(
    path,
    `version: 1
listen: 127.0.0.1:8080
vault:
  agent: a
  tcp: 127.0.0.1:7600
  key_file: ${JSON.stringify(keyFile)}
tls:
  ca_dir: ${JSON.stringify(caDir)}
routes:
  - name: openai
    match: { host: api.openai.com, path: /v1/* }
    prefix: /openai
    upstream: https://api.openai.com
    credential: openai/api-key
  - name: anthropic
    prefix: /anthropic
    upstream: https://api.anthropic.com
    credential: anthropic/api-key
    inject: { header_type: custom, header_name: x-api-key }
  - name: internal-tools
    prefix: /tools
    upstream: https://tools.example.com/api
    credential: tools/token
  - name: github
    match: { host: api.github.com }
    upstream: https://api.github.com
    credential: github/token
`,
  );
  return path;
}

test('env prints what an agent container needs, and a shell accepts it', async () => {
  const caDir = join(await mkdtemp(join(tmpdir(), 'env-ca-')), 'ca');
  assert.equal((await inProcess(['ca', 'init', '--out', caDir])).code, 0);
  const { keyFile } = await throwawayKeyFile();
  const r = await cli(['env', '--config', await routesFile(caDir, keyFile)]);
  assert.equal(r.code, 0, r.stderr);
  const out = r.stdout;
  for (const n of ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy']) assert.match(out, new RegExp(`^export ${n}=http://127\\.0\\.0\\.1:8080$`, 'm'));
  assert.match(out, /^export NO_PROXY=localhost,127\.0\.0\.1,::1$/m);
  assert.match(out, /^export no_proxy=localhost,127\.0\.0\.1,::1$/m);
  assert.match(out, new RegExp(`^export NODE_EXTRA_CA_CERTS=${caDir}/ca\\.crt$`, 'm'));
  assert.match(out, new RegExp(`^export REQUESTS_CA_BUNDLE=${caDir}/ca-bundle\\.crt$`, 'm'));
  for (const n of ['SSL_CERT_FILE', 'CURL_CA_BUNDLE', 'GIT_SSL_CAINFO', 'AWS_CA_BUNDLE']) {
    assert.match(out, new RegExp(`^export ${n}=${caDir}/ca-bundle\\.crt$`, 'm'));
  }
  assert.match(out, /^# The variables below REPLACE the trust store of their clients/m);
  assert.match(out, /^export NODE_USE_ENV_PROXY=1$/m);
  assert.match(out, /^export OPENAI_BASE_URL=http:\/\/127\.0\.0\.1:8080\/openai\/v1$/m);
  assert.match(out, /^export ANTHROPIC_BASE_URL=http:\/\/127\.0\.0\.1:8080\/anthropic$/m);
  assert.match(out, /^export INTERNAL_TOOLS_BASE_URL=http:\/\/127\.0\.0\.1:8080\/tools$/m);
  assert.match(out, /^export OPENAI_API_KEY=sk-sanctum-placeholder$/m);
  assert.match(out, /^export ANTHROPIC_API_KEY=sk-sanctum-placeholder$/m);
  assert.match(out, /^export INTERNAL_TOOLS_API_KEY=sk-sanctum-placeholder$/m);
  assert.match(out, /^export GITHUB_TOKEN=sk-sanctum-placeholder$/m);
  assert.doesNotMatch(out, /GITHUB_BASE_URL/, 'host-only routes are reached through the proxy');

  // The output is valid shell: source it and read the variables back.
  const { stdout } = await run('sh', ['-c', `${out}\nprintf '%s|%s|%s' "$OPENAI_BASE_URL" "$https_proxy" "$SSL_CERT_FILE"`], { env: { PATH: process.env.PATH ?? '' } });
  assert.equal(stdout, `http://127.0.0.1:8080/openai/v1|http://127.0.0.1:8080|${caDir}/ca-bundle.crt`);

  const moved = await inProcess(['env', '--config', await routesFile(caDir, keyFile), '--proxy-url', 'http://egress:15001', '--ca-path', '/etc/sanctum']);
  assert.match(moved.stdout, /^export HTTPS_PROXY=http:\/\/egress:15001$/m);
  assert.match(moved.stdout, /^export NO_PROXY=localhost,127\.0\.0\.1,::1,egress$/m);
  assert.match(moved.stdout, /^export NODE_EXTRA_CA_CERTS=\/etc\/sanctum\/ca\.crt$/m);
});

test('run refuses to start with a CA key that other users can read', async () => {
  const caDir = join(await mkdtemp(join(tmpdir(), 'run-ca-')), 'ca');
  assert.equal((await inProcess(['ca', 'init', '--out', caDir])).code, 0);
  await chmod(join(caDir, 'ca.key'), 0o644);
  const { keyFile } = await throwawayKeyFile();
  const r = await cli(['run', '--config', await routesFile(caDir, keyFile), '--listen', '127.0.0.1:0', '--admin', 'off']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /CA key .*ca\.key is readable by other users \(mode 0644\); run `chmod 600/);
});
