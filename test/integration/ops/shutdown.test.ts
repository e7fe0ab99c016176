/**
 * Graceful shutdown: SIGTERM during 50 in-flight SSE streams lets all 50 complete,
 * then the process exits 0 by itself (no open handles keep it alive); new connections
 * are refused once draining starts.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request as httpRequest, Agent } from 'node:http';
import { startTestVault } from '../../helpers/devvault.js';
import { startEcho, type Echo } from '../../helpers/echo.js';
import { spawnSidecar } from '../../helpers/child.js';

let vault: Awaited<ReturnType<typeof startTestVault>>;
let echo: Echo;
before(async () => {
  vault = await startTestVault({ credentials: { 'llm/key': 'sk-LLM-SECRET' }, allowLoopback: true });
  echo = await startEcho();
});
after(async () => {
  await echo.close();
  await vault.close();
});

test('SIGTERM during 50 SSE streams: all complete, then exit 0', async () => {
  const ep = vault.endpoint as { host: string; port: number };
  const file = join(vault.dir, 'shutdown.yaml');
  await writeFile(
    file,
    `version: 1
listen: 127.0.0.1:0
admin: 127.0.0.1:0
vault: { agent: ${vault.agent}, tcp: "${ep.host}:${ep.port}", key_file: ${JSON.stringify(vault.keyFile)} }
limits: { shutdown_timeout: 20s }
routes:
  - { name: llm, prefix: /llm, upstream: "${echo.origin}", allow_plaintext: true, credential: llm/key }
`,
  );
  const sc = await spawnSidecar(['run', '--config', file]);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  let firstEvents = 0;
  let onAllStarted: () => void = () => undefined;
  const allStarted = new Promise<void>((r) => (onAllStarted = r));
  const streams = Array.from(
    { length: 50 },
    () =>
      new Promise<number>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port: sc.proxyPort, path: '/llm/sse?n=20&interval=50', agent }, (res) => {
          let text = '';
          let first = true;
          res.on('data', (c: Buffer) => {
            text += c.toString();
            if (first) {
              first = false;
              firstEvents += 1;
              if (firstEvents === 50) onAllStarted();
            }
          });
          res.on('end', () => resolve(text.split('\n\n').filter((e) => e.startsWith('id: ')).length));
          res.on('error', reject);
        });
        req.on('error', reject);
        req.end();
      }),
  );
  await allStarted;
  sc.proc.kill('SIGTERM');
  const counts = await Promise.all(streams);
  assert.deepEqual(counts, Array(50).fill(20), 'every stream delivered all 20 events');
  agent.destroy();
  assert.equal(await sc.exited, 0, 'exited 0 by itself after draining');
  assert.ok(sc.lines.some((l) => l.includes('sanctum-sidecar stopped')));
});
