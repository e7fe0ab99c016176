/**
 * curl with `--proxy` and `--cacert` (the sidecar CA) reaches the TLS echo upstream
 * through an intercepted CONNECT; the upstream sees the injected credential, never
 * the agent's placeholder, and curl verified a certificate for the requested host.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
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

test('curl --proxy --cacert gets the credential injected', async () => {
  const { stdout, stderr } = await run(
    'curl',
    ['-sS', '-v', '--proxy', stack.proxyUrl, '--cacert', pki.caFile, '-H', `Authorization: Bearer ${PLACEHOLDER}`, 'https://api.openai.com/v1/models'],
    { env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, timeout: 20_000 },
  );
  const seen = JSON.parse(stdout) as { url: string; headers: Record<string, string> };
  assert.equal(seen.url, '/v1/models');
  // What the upstream received (the echoed copy is masked by the response guard).
  assert.equal(upstream.requests.at(-1)!.headers.authorization, `Bearer ${SECRETS.openai}`);
  assert.equal(seen.headers.authorization, `Bearer ${'*'.repeat(SECRETS.openai.length)}`);
  assert.ok(!stdout.includes(PLACEHOLDER));
  assert.match(stderr, /CONNECT api\.openai\.com:443/);
  assert.match(stderr, /subject: CN=api\.openai\.com/);
  assert.match(stderr, /SSL certificate verify ok/);
});

test('curl without the CA fails verification and nothing reaches the upstream', async () => {
  const count = upstream.requests.length;
  await assert.rejects(
    run('curl', ['-sS', '--proxy', stack.proxyUrl, '--cacert', pki.upstreamCaFile, 'https://api.openai.com/v1/models'], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      timeout: 20_000,
    }),
    /certificate/i,
  );
  assert.equal(upstream.requests.length, count);
});
