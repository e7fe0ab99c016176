/**
 * src/healthcheck.ts, the container healthcheck (Dockerfile HEALTHCHECK, compose):
 * address parsing, exit codes against a loopback admin stand-in, the 2 s timeout, and
 * the script run as a process the way the image runs it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { DEFAULT_ADMIN, TIMEOUT_MS, main, probe, probeTarget } from '../../src/healthcheck.js';
import { ROOT } from './helm.js';

describe('healthcheck: admin address', () => {
  it('defaults to 127.0.0.1:9090', () => {
    assert.equal(DEFAULT_ADMIN, '127.0.0.1:9090');
    assert.deepEqual(probeTarget(undefined), { host: '127.0.0.1', port: 9090 });
    assert.deepEqual(probeTarget(''), { host: '127.0.0.1', port: 9090 });
  });

  it('probes loopback when the admin listener binds a wildcard address', () => {
    assert.deepEqual(probeTarget('0.0.0.0:9090'), { host: '127.0.0.1', port: 9090 });
    assert.deepEqual(probeTarget(':9191'), { host: '127.0.0.1', port: 9191 });
    assert.deepEqual(probeTarget('[::]:9090'), { host: '::1', port: 9090 });
  });

  it('keeps explicit hosts, including bracketed IPv6', () => {
    assert.deepEqual(probeTarget('127.0.0.2:7000'), { host: '127.0.0.2', port: 7000 });
    assert.deepEqual(probeTarget('[::1]:9090'), { host: '::1', port: 9090 });
    assert.deepEqual(probeTarget('localhost:9090'), { host: 'localhost', port: 9090 });
  });

  it('rejects nonsense', () => {
    for (const bad of ['9090', 'host:', 'host:0', 'host:70000', 'host:9x', '::1:9090', 'off']) {
      assert.throws(() => probeTarget(bad), Error, bad);
    }
  });

  it('times out after 2 s', () => {
    assert.equal(TIMEOUT_MS, 2000);
  });
});

describe('healthcheck: against a loopback admin listener', () => {
  let server: Server;
  let port: number;
  const sockets = new Set<Socket>();
  let healthz = 200;
  let readyz = 503;
  const seen: string[] = [];

  before(async () => {
    server = createServer((req, res: ServerResponse) => {
      seen.push(`${req.method} ${req.url}`);
      if (req.url === '/hang') return; // never answers
      const status = req.url === '/healthz' ? healthz : req.url === '/readyz' ? readyz : 404;
      if (status === 0) return; // simulate a hung event loop
      res.writeHead(status, { 'content-type': 'text/plain' }).end('x');
    });
    server.on('connection', (s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });

  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  });

  const env = (): NodeJS.ProcessEnv => ({ SANCTUM_SIDECAR_ADMIN: `0.0.0.0:${port}` });

  it('exits 0 when /healthz answers 200, 1 otherwise', async () => {
    healthz = 200;
    assert.equal(await main([], env()), 0);
    healthz = 503;
    assert.equal(await main([], env()), 1);
    healthz = 200;
    assert.ok(seen.includes('GET /healthz'));
  });

  it('--ready probes /readyz instead', async () => {
    readyz = 503;
    assert.equal(await main(['--ready'], env()), 1);
    readyz = 200;
    assert.equal(await main(['--ready'], env()), 0);
    assert.ok(seen.includes('GET /readyz'));
  });

  it('exits 1 on unknown arguments and on a bad address, without probing', async () => {
    assert.equal(await main(['--bogus'], env()), 1);
    assert.equal(await main([], { SANCTUM_SIDECAR_ADMIN: 'nonsense' }), 1);
  });

  it('exits 1 when nothing listens', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const deadPort = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    assert.equal(await main([], { SANCTUM_SIDECAR_ADMIN: `127.0.0.1:${deadPort}` }), 1);
  });

  it('gives up on a listener that never answers', async () => {
    healthz = 0;
    const t0 = Date.now();
    await assert.rejects(probe({ host: '127.0.0.1', port }, 300), /timed out after 300 ms/);
    const elapsed = Date.now() - t0;
    assert.ok(elapsed >= 250 && elapsed < 2000, `took ${elapsed} ms`);
    healthz = 200;
  });

  it('runs as a script: exit code 0/1, and importing it does not run it', async () => {
    const run = (extra: NodeJS.ProcessEnv): Promise<number | null> =>
      new Promise((resolve) => {
        const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'healthcheck.ts')], {
          env: { ...process.env, ...extra },
          stdio: 'ignore',
        });
        child.on('close', resolve);
      });
    healthz = 200;
    assert.equal(await run(env()), 0);
    healthz = 500;
    assert.equal(await run(env()), 1);
    healthz = 200;
    // This very file imported the module: had it run main(), it would have exited the test process.
    assert.equal(typeof main, 'function');
  });
});
