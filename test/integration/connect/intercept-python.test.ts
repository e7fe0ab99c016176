/**
 * Python's urllib, configured only through the environment an agent container gets
 * (`HTTPS_PROXY`, and `SSL_CERT_FILE` naming the CA bundle that `ca init` writes),
 * reaches the TLS echo upstream through an intercepted CONNECT with the credential
 * injected and the placeholder gone.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SECRETS, PLACEHOLDER, type Stack } from '../../helpers/stack.js';
import type { Echo } from '../../helpers/echo.js';
import { type InterceptFixture, type Pki, startInterceptFixture } from './helpers.js';

const run = promisify(execFile);
let pki: Pki;
let upstream: Echo;
let stack: Stack;
let fixture: InterceptFixture;

before(async () => {
  fixture = await startInterceptFixture();
  ({ pki, upstream, stack } = fixture);
});
after(() => fixture.close());

const SCRIPT = `
import json, urllib.request
req = urllib.request.Request('https://api.openai.com/v1/models', headers={'Authorization': 'Bearer ${PLACEHOLDER}'})
with urllib.request.urlopen(req, timeout=10) as r:
    print(json.dumps({'status': r.status, 'body': r.read().decode()}))
`;

test('python urllib with HTTPS_PROXY and the CA bundle gets the credential injected', async () => {
  const { stdout } = await run('python3', ['-c', SCRIPT], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HTTPS_PROXY: stack.proxyUrl, SSL_CERT_FILE: join(pki.caDir, 'ca-bundle.crt') },
    timeout: 20_000,
  });
  const out = JSON.parse(stdout) as { status: number; body: string };
  assert.equal(out.status, 200);
  const seen = JSON.parse(out.body) as { url: string; headers: Record<string, string> };
  assert.equal(seen.url, '/v1/models');
  // What the upstream received (the echoed copy is masked by the response guard).
  assert.equal(upstream.requests.at(-1)!.headers.authorization, `Bearer ${SECRETS.openai}`);
  assert.equal(seen.headers.authorization, `Bearer ${'*'.repeat(SECRETS.openai.length)}`);
  assert.ok(!out.body.includes(PLACEHOLDER));
  const tunnel = stack.requestLines().find((l) => l.form === 'connect' && l.decision === 'intercept');
  assert.ok(tunnel, 'a canonical line records the intercepted tunnel');
});

test('python refuses the tunnel when it does not trust the sidecar CA (nothing reaches the upstream)', async () => {
  const count = upstream.requests.length;
  await assert.rejects(
    run('python3', ['-c', SCRIPT], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HTTPS_PROXY: stack.proxyUrl, SSL_CERT_FILE: pki.upstreamCaFile },
      timeout: 20_000,
    }),
    /CERTIFICATE_VERIFY_FAILED/,
  );
  assert.equal(upstream.requests.length, count);
});
