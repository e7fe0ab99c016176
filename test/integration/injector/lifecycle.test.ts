/**
 * `sanctum-sidecar injector` as a process: it refuses bad flags and settings with a message,
 * serves reviews, picks up a renewed serving certificate on SIGHUP (cert-manager renews the
 * Secret in place), and on SIGTERM turns /readyz to 503 while still answering during its
 * drain delay, then exits 0.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { pollUntil } from '../../helpers/child.js';
import { admit, call, fixture, makeTls, type Tls } from '../../helpers/injector.js';

let tls: Tls;
const started: ChildProcess[] = [];
before(async () => {
  tls = await makeTls();
});
after(async () => {
  // A failed assertion must not leave an injector running (it would hold the test run open).
  for (const p of started) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  await tls.close();
});

interface Proc {
  readonly proc: ChildProcess;
  readonly lines: string[];
  readonly exited: Promise<number | string>;
  stderr(): string;
}

function run(args: string[]): Proc {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'injector', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(proc);
  const lines: string[] = [];
  let err = '';
  let buf = '';
  proc.stdout!.on('data', (c: Buffer) => {
    buf += c.toString();
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
  proc.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | string>((resolve) => proc.once('exit', (code, sig) => resolve(code ?? sig ?? -1)));
  return { proc, lines, exited, stderr: () => err };
}

it('refuses a missing certificate and settings the chart would refuse, saying why', async () => {
  const noCert = run(['--listen', '127.0.0.1:0']);
  assert.equal(await noCert.exited, 2);
  assert.match(noCert.stderr(), /--tls-cert and --tls-key are required/);
  const oldNative = run(['--tls-cert', tls.certFile, '--tls-key', tls.keyFile, '--listen', '127.0.0.1:0', '--kube-version', '1.28.0']);
  assert.equal(await oldNative.exited, 1);
  assert.match(oldNative.stderr(), /sidecar\.mode=native needs Kubernetes >= 1\.29.*set sidecar\.mode=classic/);
});

it('serves reviews, reloads its certificate on SIGHUP, and drains on SIGTERM: /readyz 503 while still answering, then exit 0', async () => {
  const p = run(['--tls-cert', tls.certFile, '--tls-key', tls.keyFile, '--listen', '127.0.0.1:0', '--drain-delay', '6s', '--image', 'registry.example/sanctum-sidecar:9.9.9']);
  let port = 0;
  assert.ok(
    await pollUntil(() => {
      const line = p.lines.find((l) => l.includes('injector listening'));
      if (line) port = Number(/"listen":"127\.0\.0\.1:(\d+)"/.exec(line)![1]);
      return port > 0;
    }, 60_000),
    `the injector did not start: ${p.stderr()}`,
  );

  const review = await fixture('deployment-pod');
  const res = await admit(port, tls.caPem, review);
  const patch = JSON.parse(Buffer.from(res.patch, 'base64').toString()) as Array<{ path: string; value: Array<{ image: string }> }>;
  assert.equal(patch.find((o) => o.path === '/spec/initContainers')?.value[0]?.image, 'registry.example/sanctum-sidecar:9.9.9', '--image is used');
  // The log line is written when the answer is; it reaches our pipe a moment later on a loaded machine.
  let logLine: string | undefined;
  await pollUntil(() => (logLine = p.lines.find((l) => l.includes('"msg":"admission"'))) !== undefined, 10_000);
  assert.ok(logLine, 'no admission log line');
  assert.match(logLine, /"outcome":"injected"/);
  assert.match(logLine, /"pod":"research-agent-7d4b9c6f58-\*"/);

  const before = (await call(port, tls.caPem, { method: 'GET', path: '/healthz' })).fingerprint;
  const renewed = await tls.renew();
  assert.notEqual(renewed, before);
  p.proc.kill('SIGHUP');
  assert.ok(
    await pollUntil(async () => (await call(port, tls.caPem, { method: 'GET', path: '/healthz' })).fingerprint === renewed, 30_000),
    'the renewed certificate was not served after SIGHUP',
  );
  assert.equal(new X509Certificate(await readFile(tls.certFile)).fingerprint256, renewed);

  p.proc.kill('SIGTERM');
  assert.ok(await pollUntil(async () => (await call(port, tls.caPem, { method: 'GET', path: '/readyz' })).status === 503, 6_000, 20), '/readyz did not turn 503');
  const during = await admit(port, tls.caPem, review);
  assert.equal(during.allowed, true, 'reviews are still answered during the drain delay');
  assert.ok(during.patch, 'and still injected');
  assert.equal(await p.exited, 0);
  assert.ok(p.lines.some((l) => l.includes('injector stopped')));
});
