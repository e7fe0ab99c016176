/**
 * `limits.drain_delay`: after SIGTERM the sidecar first reports not-ready on /readyz but
 * keeps serving new requests (with their credential) for the delay, as a preStop sleep
 * would on Kubernetes >= 1.30; only then does it refuse new requests, drain, and exit 0.
 * Shown on a child process with the real CLI, ordering events rather than timing them.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request as httpRequest } from 'node:http';
import { startTestVault } from '../../helpers/devvault.js';
import { startEcho, type Echo } from '../../helpers/echo.js';
import { pollUntil, spawnSidecar } from '../../helpers/child.js';

let vault: Awaited<ReturnType<typeof startTestVault>>;
let echo: Echo;
before(async () => {
  vault = await startTestVault({ credentials: { 'llm/key': 'sk-DRAIN-DELAY-SECRET' }, allowLoopback: true });
  echo = await startEcho();
});
after(async () => {
  await echo.close();
  await vault.close();
});

interface Answer {
  readonly status: number;
  readonly body: string;
}

/** One request on a fresh connection (no keep-alive), so each one proves the listener still accepts. */
function get(port: number, path: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, agent: false, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

test('SIGTERM with drain_delay: /readyz turns 503 while new requests are still served, then they are refused and the process exits 0', async () => {
  const ep = vault.endpoint as { host: string; port: number };
  const file = join(vault.dir, 'drain-delay.yaml');
  // The delay is long only so that the request made after /readyz turns 503 surely lands inside it
  // on a loaded machine; the test waits for events, not for the clock.
  await writeFile(
    file,
    `version: 1
listen: 127.0.0.1:0
admin: 127.0.0.1:0
vault: { agent: ${vault.agent}, tcp: "${ep.host}:${ep.port}", key_file: ${JSON.stringify(vault.keyFile)} }
limits: { shutdown_timeout: 5s, drain_delay: 4s }
routes:
  - { name: llm, prefix: /llm, upstream: "${echo.origin}", allow_plaintext: true, credential: llm/key }
`,
  );
  const sc = await spawnSidecar(['run', '--config', file]);
  const admin = sc.adminPort!;
  assert.ok(await pollUntil(async () => (await get(admin, '/readyz')).status === 200, 10_000), 'sidecar never became ready');
  assert.equal((await get(sc.proxyPort, '/llm/before')).status, 200);

  sc.proc.kill('SIGTERM');
  let readyz: Answer = { status: 0, body: '' };
  assert.ok(
    await pollUntil(async () => {
      readyz = await get(admin, '/readyz');
      return readyz.status === 503;
    }, 5_000, 20),
    '/readyz did not turn 503 after SIGTERM',
  );
  assert.match(readyz.body, /drain delay/);

  // Not ready, yet still serving: a new connection, a new request, the credential injected.
  const during = await get(sc.proxyPort, '/llm/during-delay');
  assert.equal(during.status, 200, `request during the drain delay: ${during.body}`);
  const seen = echo.requests.find((r) => r.url === '/during-delay');
  assert.ok(seen, 'the upstream did not receive the request made during the drain delay');
  assert.equal(seen.headers.authorization, 'Bearer sk-DRAIN-DELAY-SECRET');

  // After the delay: new requests are refused (503 SHUTTING_DOWN, or the listener is closed).
  const refused = await pollUntil(async () => {
    try {
      const r = await get(sc.proxyPort, '/llm/after-delay');
      return r.status === 503 && r.body.includes('SHUTTING_DOWN');
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'ECONNREFUSED' || (err as NodeJS.ErrnoException).code === 'ECONNRESET';
    }
  }, 15_000, 100);
  assert.ok(refused, 'new requests were still accepted after the drain delay');

  assert.equal(await sc.exited, 0, 'exited 0 by itself after draining');
  const delayLine = sc.lines.find((l) => l.includes('drain delay'));
  assert.ok(delayLine, 'no log line announcing the drain delay');
  assert.match(delayLine, /"drain_delay_ms":4000/);
  assert.ok(sc.lines.some((l) => l.includes('sanctum-sidecar stopped')));
});
