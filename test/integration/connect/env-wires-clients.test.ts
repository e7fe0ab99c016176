/**
 * `sanctum-sidecar env` wires every client: real clients started with exactly the
 * variables `env` prints (its export lines parsed, plus PATH, nothing else) reach the
 * routed upstreams through the sidecar with the credential injected, with TLS
 * interception on:
 *  - a Node 24 script using only global `fetch` (NODE_USE_ENV_PROXY=1 makes it use the
 *    proxy: CONNECT host:80 for http://, an intercepted CONNECT :443 trusted through
 *    NODE_EXTRA_CA_CERTS for https://, and the base URL straight to the sidecar);
 *  - curl (lowercase http_proxy, https_proxy and CURL_CA_BUNDLE);
 *  - Python requests (HTTP(S)_PROXY and REQUESTS_CA_BUNDLE).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import { runEnvCommand } from '../../../src/cli/env.js';
import { SECRETS, type Stack } from '../../helpers/stack.js';
import { findNode24, parseExports } from '../../helpers/client-env.js';
import { type InterceptFixture, startInterceptFixture } from './helpers.js';

const run = promisify(execFile);
let fixture: InterceptFixture;
let stack: Stack;
/** Exactly what `env` printed, parsed, plus PATH. */
let agentEnv: Record<string, string>;
let printed: string;

before(async () => {
  fixture = await startInterceptFixture();
  stack = fixture.stack;
  const out = new PassThrough();
  let text = '';
  out.on('data', (c: Buffer) => (text += c.toString()));
  const code = await runEnvCommand(['--config', stack.configPath, '--proxy-url', stack.proxyUrl], {}, { stdout: out, stderr: process.stderr });
  assert.equal(code, 0);
  printed = text;
  agentEnv = { ...parseExports(text), PATH: process.env.PATH ?? '/usr/bin:/bin' };
});
after(() => fixture.close());

interface Seen {
  url: string;
  headers: Record<string, string>;
}

/** The three calls every client makes; each answers with what the echo upstream received. */
const CALLS = {
  http: 'http://api.github.com/user',
  https: 'https://api.openai.com/v1/models',
};

/**
 * The echo reflects what the upstream received; the response guard masks the injected
 * credential on its way back, so the agent sees exactly the secret's length in `*`. The
 * guard masks only bytes equal to the injected value: this proves the upstream received
 * the secret (not the placeholder) and that the agent never did.
 */
function assertInjected(seen: Seen, secret: string, url: string): void {
  assert.equal(seen.url, url);
  assert.equal(seen.headers.authorization, `Bearer ${'*'.repeat(secret.length)}`, 'the vault credential replaced the placeholder (masked on the way back)');
  assert.ok(!JSON.stringify(seen).includes(secret), 'the agent never sees the secret');
}

test('the printed environment is what a shell would export (the parser agrees with sh)', async () => {
  const { stdout } = await run('sh', ['-c', `${printed}\nexec env`], { env: { PATH: agentEnv.PATH! } });
  const fromShell = Object.fromEntries(
    stdout
      .trim()
      .split('\n')
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  for (const [k, v] of Object.entries(agentEnv)) assert.equal(fromShell[k], v, k);
  assert.equal(agentEnv.NODE_USE_ENV_PROXY, '1');
  assert.equal(agentEnv.CURL_CA_BUNDLE, join(fixture.pki.caDir, 'ca-bundle.crt'));
});

test('a Node 24 script using only global fetch reaches both routes and the base URL, credential injected', async (t) => {
  const node = findNode24();
  if ('skip' in node) {
    t.skip(node.skip);
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'env-node24-'));
  const script = join(dir, 'agent.mjs');
  await writeFile(
    script,
    `const key = process.env.OPENAI_API_KEY;
const out = {};
for (const [name, url] of Object.entries(${JSON.stringify({ ...CALLS, base: 'BASE' })})) {
  const target = url === 'BASE' ? process.env.OPENAI_BASE_URL + '/models' : url;
  const res = await fetch(target, { headers: { authorization: 'Bearer ' + key } });
  out[name] = { status: res.status, body: await res.json() };
}
process.stdout.write(JSON.stringify({ node: process.versions.node, out }));
`,
  );
  const before = stack.requestLines().length;
  const { stdout } = await run(node.bin, [script], { env: agentEnv, timeout: 30_000 });
  const r = JSON.parse(stdout) as { node: string; out: Record<string, { status: number; body: Seen }> };
  assert.ok(Number(r.node.split('.')[0]) >= 24, `ran on Node ${r.node}`);
  for (const name of ['http', 'https', 'base']) assert.equal(r.out[name]!.status, 200, name);
  assertInjected(r.out.http!.body, SECRETS.github, '/user');
  assertInjected(r.out.https!.body, SECRETS.openai, '/v1/models');
  assertInjected(r.out.base!.body, SECRETS.openai, '/v1/models');
  // How Node 24's fetch used the proxy: a CONNECT to port 80 for http://, intercepted TLS for https://.
  const forms = stack
    .requestLines()
    .slice(before)
    .filter((l) => l.form !== 'connect')
    .map((l) => `${l.form}:${l.route}`)
    .sort();
  assert.deepEqual(forms, ['intercept:openai', 'prefix:openai', 'tunnel-http:github']);
});

test('curl with only the printed environment gets the credential injected over http and intercepted https', async () => {
  for (const [name, url] of Object.entries(CALLS)) {
    const { stdout } = await run('curl', ['-sS', '--fail', '-H', `Authorization: Bearer ${agentEnv.OPENAI_API_KEY}`, url], { env: agentEnv, timeout: 20_000 });
    const seen = JSON.parse(stdout) as Seen;
    if (name === 'http') assertInjected(seen, SECRETS.github, '/user');
    else assertInjected(seen, SECRETS.openai, '/v1/models');
  }
});

function hasRequests(): boolean {
  return spawnSync('python3', ['-c', 'import requests'], { stdio: 'ignore' }).status === 0;
}

test('Python requests with only the printed environment gets the credential injected', async (t) => {
  // requests is the client the issue names; without it (not installed), fall back to urllib, which reads the same variables.
  const useRequests = hasRequests();
  if (!useRequests) t.diagnostic('python3 has no requests module: using urllib (HTTP(S)_PROXY and SSL_CERT_FILE)');
  const script = useRequests
    ? `import json, os, requests
out = {}
for name, url in ${JSON.stringify(CALLS)}.items():
    r = requests.get(url, headers={'Authorization': 'Bearer ' + os.environ['OPENAI_API_KEY']}, timeout=10)
    out[name] = {'status': r.status_code, 'body': r.json()}
print(json.dumps(out))`
    : `import json, os, urllib.request
out = {}
for name, url in ${JSON.stringify(CALLS)}.items():
    req = urllib.request.Request(url, headers={'Authorization': 'Bearer ' + os.environ['OPENAI_API_KEY']})
    with urllib.request.urlopen(req, timeout=10) as r:
        out[name] = {'status': r.status, 'body': json.loads(r.read())}
print(json.dumps(out))`;
  const { stdout } = await run('python3', ['-c', script], { env: agentEnv, timeout: 30_000 });
  const out = JSON.parse(stdout) as Record<string, { status: number; body: Seen }>;
  assert.equal(out.http!.status, 200);
  assert.equal(out.https!.status, 200);
  assertInjected(out.http!.body, SECRETS.github, '/user');
  assertInjected(out.https!.body, SECRETS.openai, '/v1/models');
});
