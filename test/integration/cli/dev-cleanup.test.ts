/**
 * `sanctum-sidecar dev` leaves nothing behind: a missing or invalid routes.yaml exits 1
 * with the located error before any key or temporary directory exists, and SIGINT or
 * SIGTERM (once, or twice in a row) removes the temporary directory with the dev key.
 * Each run gets a fresh TMPDIR that must be empty afterwards (tsx's own cache is
 * turned off so that it does not write there).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { PassThrough } from 'node:stream';
import { join } from 'node:path';
import { request } from 'undici';
import { pollUntil, spawnSidecar } from '../../helpers/child.js';

async function freshTmp(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'dev-cleanup-'));
}

/** Run `dev` to its end (or 30 s, which counts as "never exits"). */
function dev(args: string[], tmp: string): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/main.ts', 'dev', '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', ...args],
      { env: { ...process.env, TMPDIR: tmp, TSX_DISABLE_CACHE: '1' }, timeout: 30_000 },
      (err, _stdout, stderr) => {
        const e = err as { code?: number; signal?: string; killed?: boolean } | null;
        resolve({ code: e === null ? 0 : e.killed ? null : (e.code ?? null), signal: e?.signal ?? null, stderr });
      },
    );
  });
}

test('dev with a missing routes.yaml exits 1 with the error and leaves no temp dir', async () => {
  const tmp = await freshTmp();
  try {
    const r = await dev(['--config', join(tmp, 'nowhere.yaml')], tmp);
    assert.equal(r.code, 1, `exit ${r.code} / ${r.signal}: ${r.stderr}`);
    assert.match(r.stderr, /nowhere\.yaml.*cannot read the configuration: the file does not exist/);
    assert.deepEqual(await readdir(tmp), []);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});

test('dev with an invalid routes.yaml exits 1 naming file, line and path, and leaves no temp dir', async () => {
  const tmp = await freshTmp();
  const conf = await mkdtemp(join(tmpdir(), 'dev-cleanup-conf-'));
  try {
    const file = join(conf, 'bad.yaml');
    await writeFile(file, 'version: 1\nvault: { agent: a }\nroutes:\n  - name: r\n    match: { host: r.test }\n    inject: { header_type: nope }\n');
    const r = await dev(['--config', file], tmp);
    assert.equal(r.code, 1, `exit ${r.code} / ${r.signal}: ${r.stderr}`);
    assert.match(r.stderr, /bad\.yaml:6 at routes\[0\]\.inject\.header_type/);
    assert.deepEqual(await readdir(tmp), []);
  } finally {
    await rm(tmp, { recursive: true, force: true });
    await rm(conf, { recursive: true, force: true });
  }
});

async function startDev(tmp: string): Promise<Awaited<ReturnType<typeof spawnSidecar>>> {
  const sc = await spawnSidecar(['dev', '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0'], { TMPDIR: tmp, TSX_DISABLE_CACHE: '1' });
  const ready = await pollUntil(async () => {
    const res = await request(`http://127.0.0.1:${sc.adminPort}/readyz`);
    await res.body.dump();
    return res.statusCode === 200;
  }, 15_000);
  assert.ok(ready, 'the sidecar is ready on the development vault');
  const [dir, ...others] = await readdir(tmp);
  assert.match(dir ?? '', /^sanctum-dev-/);
  assert.deepEqual(others, []);
  assert.equal((await stat(join(tmp, dir!, 'sanctum-dev.key'))).mode & 0o777, 0o600, 'the dev key lives there while running');
  return sc;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  test(`dev removes its temp dir and key on ${signal}`, async () => {
    const tmp = await freshTmp();
    try {
      const sc = await startDev(tmp);
      sc.proc.kill(signal);
      assert.equal(await sc.exited, 0);
      assert.deepEqual(await readdir(tmp), []);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });
}

test('dev removes its temp dir on a second SIGTERM that cuts the drain short', async () => {
  const tmp = await freshTmp();
  try {
    const sc = await startDev(tmp);
    // An upload that never ends keeps a request in flight, so the first SIGTERM drains (waits).
    const body = new PassThrough();
    body.write('x');
    const pending = request(`http://127.0.0.1:${sc.proxyPort}/echo/upload`, { method: 'POST', body }).catch(() => undefined);
    const injected = await pollUntil(async () => {
      const res = await request(`http://127.0.0.1:${sc.adminPort}/metrics`);
      return /sanctum_sidecar_injections_total\{[^}]*route="echo"[^}]*\} 1/.test(await res.body.text());
    }, 10_000);
    assert.ok(injected, 'the upload is in flight, its credential injected');
    sc.proc.kill('SIGTERM');
    assert.ok(await pollUntil(() => sc.lines.some((l) => l.includes('shutting down')), 10_000), 'the first SIGTERM starts the drain');
    sc.proc.kill('SIGTERM');
    assert.equal(await sc.exited, 1, 'the second signal exits at once');
    assert.deepEqual(await readdir(tmp), []);
    body.destroy();
    await pending;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});
