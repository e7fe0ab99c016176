/**
 * The CLI as a user runs it: `check` (exit codes, located errors), `explain` (route,
 * credential, mode, upstream, no vault call), `keygen` (0600 key, public key printed)
 * and `dev` (what `npm start` runs: a working proxy on an embedded vault, offline).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProxyAgent, request } from 'undici';
import { spawnSidecar } from '../../helpers/child.js';
import { recordEvidence } from '../../helpers/evidence.js';

const run = promisify(execFile);

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], { env: { ...process.env } });
    if (args[0] === 'explain') recordEvidence('explain', [stdout, stderr]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    if (args[0] === 'explain') recordEvidence('explain', [e.stdout, e.stderr]);
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

test('check accepts the example routes.yaml and prints a summary with warnings', async () => {
  const r = await cli(['check', 'routes.yaml']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /routes\.yaml: OK \(\d+ routes/);
  assert.match(r.stdout, /echo/);
  assert.match(r.stdout, /warning: .*plain/i, 'the plaintext echo route is flagged');
});

test('check rejects a broken file, naming the YAML path and the line', async () => {
  const r = await cli(['check', 'test/fixtures/config/broken/unknown-header-type.yaml']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /unknown-header-type\.yaml:\d+ at routes\[\d+\]\.inject\.header_type/);
});

test('explain shows route, credential, mode and upstream without calling the vault', async () => {
  const r = await cli(['explain', 'POST', 'http://api.openai.com/v1/chat/completions', '--config', 'routes.yaml']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /route\s+openai/);
  assert.match(r.stdout, /credential\s+openai\/api-key/);
  assert.match(r.stdout, /mode\s+inject/);
  assert.match(r.stdout, /upstream\s+https:\/\/api\.openai\.com\/v1\/chat\/completions/);
  const denied = await cli(['explain', 'GET', 'http://evil.test/', '--config', 'routes.yaml']);
  assert.equal(denied.code, 3);
  assert.match(denied.stdout, /decision\s+deny/);
  const refused = await cli(['explain', 'GET', 'http://api.openai.com@evil.test/', '--config', 'routes.yaml']);
  assert.match(refused.stdout, /code\s+BAD_TARGET/);
});

test('keygen writes a 0600 key file and prints the public key', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sanctum-keygen-'));
  try {
    const out = join(dir, 'agent.key');
    const r = await cli(['keygen', 'agent', '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /[0-9a-f]{64}/);
    assert.equal((await stat(out)).mode & 0o777, 0o600);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('dev (npm start) serves the echo route with an injected credential, offline', async () => {
  const sc = await spawnSidecar(['dev', '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0']);
  const agent = new ProxyAgent({ uri: `http://127.0.0.1:${sc.proxyPort}`, proxyTunnel: false });
  try {
    const res = await request('http://echo.local/hello', {
      dispatcher: agent,
      headers: { authorization: 'Bearer sk-sanctum-placeholder' },
    });
    assert.equal(res.statusCode, 200);
    const body = (await res.body.json()) as { url: string; headers: Record<string, string> };
    assert.equal(body.url, '/hello');
    assert.match(body.headers.authorization!, /^Bearer sk-dev… \(\d+ chars, sha256:[0-9a-f]{12}\)$/);
    const ready = await request(`http://127.0.0.1:${sc.adminPort}/readyz`);
    assert.equal(ready.statusCode, 200);
    await ready.body.dump();
  } finally {
    await agent.close();
    assert.equal(await sc.stop(), 0);
  }
});
