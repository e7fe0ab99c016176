/**
 * Hot reload: a Kubernetes ConfigMap-style `..data` symlink swap is picked up within
 * 2 s; an invalid swap keeps the old routes serving and counts an error; SIGHUP reloads
 * (with the directory watch turned off, so only the signal can have done it).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, rename, symlink, writeFile, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { request } from 'undici';
import { startTestVault } from '../../helpers/devvault.js';
import { startEcho, type Echo } from '../../helpers/echo.js';
import { spawnSidecar, pollUntil, type ChildSidecar } from '../../helpers/child.js';

let vault: Awaited<ReturnType<typeof startTestVault>>;
let echo: Echo;
let dir: string;

before(async () => {
  vault = await startTestVault({ credentials: { 'a/key': 'sk-A-SECRET', 'b/key': 'sk-B-SECRET' }, allowLoopback: true });
  echo = await startEcho();
  dir = await mkdtemp(join(tmpdir(), 'sanctum-reload-'));
});
after(async () => {
  await echo.close();
  await vault.close();
  await rm(dir, { recursive: true, force: true });
});

function routesYaml(routes: string[]): string {
  const ep = vault.endpoint as { host: string; port: number };
  return `version: 1
listen: 127.0.0.1:0
admin: 127.0.0.1:0
vault: { agent: ${vault.agent}, tcp: "${ep.host}:${ep.port}", key_file: ${JSON.stringify(vault.keyFile)} }
routes:
${routes.map((r) => `  - { name: ${r}, prefix: /${r}, upstream: "${echo.origin}", allow_plaintext: true, credential: ${r}/key }`).join('\n')}
`;
}

/** Write a ConfigMap-shaped directory: ..<ts>/routes.yaml, ..data -> ..<ts>, routes.yaml -> ..data/routes.yaml */
async function configMapSwap(root: string, stamp: string, text: string, first: boolean): Promise<void> {
  await mkdir(join(root, `..${stamp}`));
  await writeFile(join(root, `..${stamp}`, 'routes.yaml'), text);
  await symlink(`..${stamp}`, join(root, '..data_tmp'));
  await rename(join(root, '..data_tmp'), join(root, '..data')); // the atomic swap kubelet does
  if (first) await symlink('..data/routes.yaml', join(root, 'routes.yaml'));
}

async function status(port: number, path: string): Promise<number> {
  const res = await request(`http://127.0.0.1:${port}${path}`);
  await res.body.dump();
  return res.statusCode;
}

async function metricValue(adminPort: number, series: string): Promise<number> {
  const res = await request(`http://127.0.0.1:${adminPort}/metrics`);
  const text = await res.body.text();
  const line = text.split('\n').find((l) => l.startsWith(series));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

test('a ConfigMap symlink swap is picked up within 2 s; an invalid swap keeps the old routes', async () => {
  const root = join(dir, 'cm');
  await mkdir(root);
  await configMapSwap(root, '2026_11_28_00_00_00.1', routesYaml(['a']), true);
  const sc: ChildSidecar = await spawnSidecar(['run', '--config', join(root, 'routes.yaml'), '--log-level', 'info']);
  try {
    assert.equal(await status(sc.proxyPort, '/a/x'), 200);
    assert.equal(await status(sc.proxyPort, '/b/x'), 400, 'route b does not exist yet');

    await configMapSwap(root, '2026_11_28_00_00_00.2', routesYaml(['a', 'b']), false);
    const picked = await pollUntil(async () => (await status(sc.proxyPort, '/b/x')) === 200, 2000);
    assert.ok(picked, 'the new route was served within 2 s of the swap');
    assert.equal(echo.requests[echo.requests.length - 1]!.headers.authorization, 'Bearer sk-B-SECRET');

    await configMapSwap(root, '2026_11_28_00_00_00.3', 'version: 1\nroutes: [ { name: broken', false);
    const counted = await pollUntil(
      async () => (await metricValue(sc.adminPort!, 'sanctum_sidecar_config_reloads_total{result="error"}')) === 1,
      3000,
    );
    assert.ok(counted, 'the invalid file was counted as a reload error');
    assert.equal(await status(sc.proxyPort, '/a/x'), 200, 'old routes keep serving');
    assert.equal(await status(sc.proxyPort, '/b/x'), 200, 'old routes keep serving');
    const errLine = sc.lines.find((l) => l.includes('configuration reload failed'));
    assert.ok(errLine !== undefined && /routes\.yaml:\d+/.test(errLine), `the error names the file and line: ${errLine}`);
  } finally {
    assert.equal(await sc.stop(), 0);
  }
});

test('SIGHUP reloads the configuration', async () => {
  const file = join(dir, 'hup.yaml');
  await writeFile(file, routesYaml(['a']));
  const sc = await spawnSidecar(['run', '--config', file, '--watch', 'false']);
  try {
    assert.equal(await status(sc.proxyPort, '/b/x'), 400);
    await writeFile(file, routesYaml(['a', 'b']));
    sc.proc.kill('SIGHUP');
    assert.ok(await pollUntil(async () => (await status(sc.proxyPort, '/b/x')) === 200, 3000), 'SIGHUP reloaded');
    assert.equal(await metricValue(sc.adminPort!, 'sanctum_sidecar_config_reloads_total{result="success"}'), 1);
  } finally {
    assert.equal(await sc.stop(), 0);
  }
});
