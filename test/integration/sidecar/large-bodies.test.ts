/**
 * A 200 MB upload and a 200 MB download pass through the sidecar while its memory
 * stays flat: the sidecar runs as its own process (the real CLI), and its RSS is sampled
 * from /proc during both transfers. Bodies are streamed, never buffered.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request as httpRequest } from 'node:http';
import { Readable } from 'node:stream';
import { createHash } from 'node:crypto';
import { startTestVault } from '../../helpers/devvault.js';
import { startEcho, type Echo } from '../../helpers/echo.js';
import { SECRETS } from '../../helpers/stack.js';

const SIZE = 200 * 1024 * 1024;
let vault: Awaited<ReturnType<typeof startTestVault>>;
let echo: Echo;
let child: ChildProcess;
let port = 0;

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

before(async () => {
  vault = await startTestVault({ credentials: { 'openai/api-key': SECRETS.openai }, allowLoopback: true });
  echo = await startEcho();
  const ep = vault.endpoint as { host: string; port: number };
  const cfg = `version: 1
listen: 127.0.0.1:0
admin: false
vault: { agent: ${vault.agent}, tcp: "${ep.host}:${ep.port}", key_file: ${JSON.stringify(vault.keyFile)} }
routes:
  - name: openai
    prefix: /openai
    upstream: ${echo.origin}
    allow_plaintext: true
    credential: openai/api-key
`;
  const path = join(vault.dir, 'routes.yaml');
  await writeFile(path, cfg);
  child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'run', '--config', path, '--log-level', 'info'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  port = await new Promise<number>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (c: Buffer) => {
      buf += c.toString();
      const m = /"proxy":"127\.0\.0\.1:(\d+)"/.exec(buf);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`sidecar exited ${code}`)));
  });
  child.stdout!.resume();
});

after(async () => {
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  await echo.close();
  await vault.close();
});

function sampleRss(): { stop: () => number } {
  let peak = rssKb(child.pid!);
  const t = setInterval(() => {
    peak = Math.max(peak, rssKb(child.pid!));
  }, 20);
  return {
    stop: () => {
      clearInterval(t);
      return Math.max(peak, rssKb(child.pid!));
    },
  };
}

test('a 200 MB upload streams through with flat memory', async () => {
  const base = rssKb(child.pid!);
  const sampler = sampleRss();
  const chunk = Buffer.alloc(64 * 1024, 0x62);
  const expected = createHash('sha256');
  let sent = 0;
  const body = new Readable({
    read() {
      if (sent >= SIZE) {
        this.push(null);
        return;
      }
      sent += chunk.length;
      expected.update(chunk);
      this.push(chunk);
    },
  });
  const status = await new Promise<number>((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, method: 'PUT', path: '/openai/upload', headers: { 'content-length': String(SIZE) } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    body.pipe(req);
  });
  const peak = sampler.stop();
  assert.equal(status, 200);
  const cap = echo.requests[echo.requests.length - 1]!;
  assert.equal(cap.bodyBytes, SIZE);
  assert.equal(cap.bodySha256, expected.digest('hex'));
  assert.ok(peak - base < 100 * 1024, `sidecar RSS grew by ${((peak - base) / 1024).toFixed(0)} MB during a 200 MB upload`);
});

test('a 200 MB download streams through with flat memory', async () => {
  const base = rssKb(child.pid!);
  const sampler = sampleRss();
  const got = await new Promise<number>((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: `/openai/download?bytes=${SIZE}` }, (res) => {
      let n = 0;
      res.on('data', (c: Buffer) => (n += c.length));
      res.on('end', () => resolve(n));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
  const peak = sampler.stop();
  assert.equal(got, SIZE);
  assert.ok(peak - base < 100 * 1024, `sidecar RSS grew by ${((peak - base) / 1024).toFixed(0)} MB during a 200 MB download`);
});
