/**
 * Container healthcheck: `node dist/healthcheck.js [--ready]`.
 *
 * GETs `http://<admin host>:<admin port>/healthz` (or `/readyz` with `--ready`) and
 * exits 0 on 200, 1 otherwise.
 * The admin address comes from `SANCTUM_SIDECAR_ADMIN` (host:port, default
 * 127.0.0.1:9090); a wildcard bind address (0.0.0.0, ::, empty) is probed on
 * loopback. Used by the Dockerfile HEALTHCHECK and the compose healthchecks, on
 * images that have no shell and no curl (distroless). The image's HEALTHCHECK
 * uses liveness (/healthz: a vault outage must not mark the process unhealthy);
 * compose uses `--ready` so that `depends_on: service_healthy` waits until
 * routes are loaded and the vault login worked.
 *
 * Deliberately tiny: node:http only, nothing from the rest of the sidecar, so it
 * starts fast and cannot fail because the application failed to load.
 */
import { realpathSync } from 'node:fs';
import { request } from './node-http.js';
import { fileURLToPath } from 'node:url';

export const DEFAULT_ADMIN = '127.0.0.1:9090';
export const TIMEOUT_MS = 2000;

export interface ProbeTarget {
  readonly host: string;
  readonly port: number;
}

/** Parse `host:port`, `[v6]:port` or `:port` into the address to probe. Throws on nonsense. */
export function probeTarget(admin: string | undefined): ProbeTarget {
  const raw = (admin ?? '').trim() || DEFAULT_ADMIN;
  let host: string;
  let portText: string;
  const v6 = /^\[([^\]]*)\]:(\d+)$/.exec(raw);
  if (v6) {
    host = v6[1] ?? '';
    portText = v6[2] ?? '';
  } else {
    const i = raw.lastIndexOf(':');
    if (i < 0) throw new Error(`SANCTUM_SIDECAR_ADMIN must be host:port, got ${JSON.stringify(raw)}`);
    host = raw.slice(0, i);
    portText = raw.slice(i + 1);
    if (host.includes(':')) throw new Error(`IPv6 addresses need brackets: ${JSON.stringify(raw)}`);
  }
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`invalid admin port in ${JSON.stringify(raw)}`);
  }
  if (host === '' || host === '0.0.0.0' || host === '*') host = '127.0.0.1';
  else if (host === '::' || host === '::0') host = '::1';
  return { host, port };
}

/** Resolves to the HTTP status of GET `path`, or rejects on error/timeout. */
export function probe(target: ProbeTarget, timeoutMs = TIMEOUT_MS, path: '/healthz' | '/readyz' = '/healthz'): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: target.host,
        port: target.port,
        path,
        method: 'GET',
        agent: false,
        headers: { 'user-agent': 'sanctum-sidecar-healthcheck', connection: 'close' },
        timeout: timeoutMs,
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    const timer = setTimeout(() => req.destroy(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
    timer.unref();
    req.on('timeout', () => req.destroy(new Error(`timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.on('close', () => clearTimeout(timer));
    req.end();
  });
}

export async function main(argv: readonly string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const unknown = argv.filter((a) => a !== '--ready');
  if (unknown.length > 0) {
    process.stderr.write(`healthcheck: unknown argument ${unknown[0]}; usage: healthcheck.js [--ready]\n`);
    return 1; // Docker reserves exit code 2
  }
  const path = argv.includes('--ready') ? '/readyz' : '/healthz';
  let target: ProbeTarget;
  try {
    target = probeTarget(env.SANCTUM_SIDECAR_ADMIN);
  } catch (err) {
    process.stderr.write(`healthcheck: ${(err as Error).message}\n`);
    return 1;
  }
  try {
    const status = await probe(target, TIMEOUT_MS, path);
    if (status === 200) return 0;
    process.stderr.write(`healthcheck: ${path} answered ${status}\n`);
    return 1;
  } catch (err) {
    process.stderr.write(`healthcheck: ${(err as Error).message}\n`);
    return 1;
  }
}

// Run only when executed directly (`node dist/healthcheck.js`), not when imported by tests.
function invokedDirectly(): boolean {
  const argv1 = process.argv[1];
  if (!argv1) return false;
  try {
    return realpathSync(argv1) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  main().then(
    (code) => process.exit(code),
    () => process.exit(1),
  );
}
