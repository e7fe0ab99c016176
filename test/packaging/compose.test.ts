/**
 * examples/compose: validated by Debian's docker-compose 1.29.2 (`config`) when it is
 * installed, and always by the structural checks below (services, network namespace
 * sharing, proxy variables, healthchecks, depends_on conditions, hardening, files that
 * the bind mounts need), which are themselves shown to catch broken variants. The
 * mounted routes.yaml goes through the sidecar's own `check`, and the demo key matches
 * the public key in dev-vault.yaml.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse as parseYaml, stringify } from 'yaml';
import { ROOT, hasBinary, sidecarCheck } from './helm.js';
import type { Obj } from './policy.js';

const DIR = join(ROOT, 'examples', 'compose');
const FILE = join(DIR, 'docker-compose.yml');
const TEXT = readFileSync(FILE, 'utf8');
const CONDITIONS = ['service_started', 'service_healthy', 'service_completed_successfully'];
// Keys Debian's docker-compose 1.29.2 rejects (Compose v2 / newer spec only).
const TOO_NEW = { top: ['name', 'include'], service: ['develop', 'models', 'provider', 'gpus'], healthcheck: ['start_interval'], dependsOn: ['required', 'restart'] };

/** Everything wrong with a compose document, structurally. */
function composeProblems(doc: Obj, dir = DIR): string[] {
  const p: string[] = [];
  for (const k of Object.keys(doc)) {
    if (TOO_NEW.top.includes(k)) p.push(`top-level ${k} is not accepted by docker-compose 1.29`);
    if (!['version', 'services', 'volumes', 'networks', 'secrets', 'configs'].includes(k) && !k.startsWith('x-')) p.push(`unknown top-level key ${k}`);
  }
  const services = (doc.services ?? {}) as Record<string, Obj>;
  for (const name of ['init', 'vault', 'sidecar', 'agent']) if (!services[name]) p.push(`service ${name} missing`);
  const declaredVolumes = new Set(Object.keys(doc.volumes ?? {}));

  for (const [name, s] of Object.entries(services)) {
    const at = `services.${name}`;
    for (const k of TOO_NEW.service) if (k in s) p.push(`${at}.${k} is not accepted by docker-compose 1.29`);
    if (!s.image) p.push(`${at}: no image`);
    // Hardening, for every service.
    if (s.read_only !== true) p.push(`${at}: read_only must be true`);
    if (!(s.cap_drop ?? []).includes('ALL')) p.push(`${at}: cap_drop must include ALL`);
    if (!(s.security_opt ?? []).some((o: string) => /^no-new-privileges(:true)?$/.test(o))) p.push(`${at}: needs no-new-privileges`);
    const user = String(s.user ?? '');
    if (name === 'init') {
      if (s.network_mode !== 'none') p.push(`${at}: the root init step must have no network`);
      if (JSON.stringify(s.cap_add ?? []) !== '["CHOWN"]') p.push(`${at}: cap_add must be exactly [CHOWN]`);
      if (s.restart !== 'no') p.push(`${at}: a one-shot service must not restart`);
    } else if (!/^[1-9]\d*(:\d+)?$/.test(user)) {
      p.push(`${at}: user must be a numeric non-root uid, got ${JSON.stringify(s.user)}`);
    } else if ((s.cap_add ?? []).length > 0) {
      p.push(`${at}: adds capabilities`);
    }
    // Healthchecks: exec form (distroless has no shell), and only keys 1.29 knows.
    if (s.healthcheck) {
      const hc = s.healthcheck as Obj;
      for (const k of TOO_NEW.healthcheck) if (k in hc) p.push(`${at}.healthcheck.${k} is not accepted by docker-compose 1.29`);
      if (!Array.isArray(hc.test) || hc.test[0] !== 'CMD') p.push(`${at}.healthcheck.test must be exec form ["CMD", ...]`);
      for (const k of ['interval', 'timeout', 'retries']) if (hc[k] === undefined) p.push(`${at}.healthcheck.${k} missing`);
    } else if (!['init', 'agent'].includes(name)) {
      p.push(`${at}: no healthcheck`);
    }
    // depends_on: long form with a condition that means something.
    const deps = s.depends_on ?? {};
    if (Array.isArray(deps)) p.push(`${at}.depends_on must use the long form with conditions`);
    else {
      for (const [dep, spec] of Object.entries(deps as Record<string, Obj>)) {
        if (!services[dep]) p.push(`${at}.depends_on.${dep}: no such service`);
        if (!CONDITIONS.includes(spec?.condition)) p.push(`${at}.depends_on.${dep}.condition ${spec?.condition} is not one of ${CONDITIONS}`);
        for (const k of TOO_NEW.dependsOn) if (spec && k in spec) p.push(`${at}.depends_on.${dep}.${k} is not accepted by docker-compose 1.29`);
        if (spec?.condition === 'service_healthy' && !services[dep]?.healthcheck) p.push(`${at}.depends_on.${dep}: service_healthy but ${dep} has no healthcheck`);
        if (spec?.condition === 'service_completed_successfully' && services[dep]?.restart !== 'no') p.push(`${at}.depends_on.${dep}: waits for completion of a restarting service`);
      }
    }
    // Mounts: named volumes declared, bind sources present.
    for (const v of (s.volumes ?? []) as string[]) {
      const [src] = String(v).split(':');
      if (src!.startsWith('.') || src!.startsWith('/')) {
        if (!existsSync(resolve(dir, src!))) p.push(`${at}: bind source ${src} does not exist`);
      } else if (!declaredVolumes.has(src!)) p.push(`${at}: volume ${src} is not declared`);
    }
  }

  // The agent joins the sidecar's network namespace, and talks to it on loopback.
  const agent = services.agent ?? {};
  const sidecar = services.sidecar ?? {};
  if (agent.network_mode !== 'service:sidecar') p.push('agent.network_mode must be service:sidecar');
  if (agent.ports || agent.networks) p.push('agent shares the sidecar namespace: it can have no ports/networks');
  if (agent.depends_on?.sidecar?.condition !== 'service_healthy') p.push('agent must wait for a healthy (ready) sidecar');
  const listen = String(sidecar.environment?.SANCTUM_SIDECAR_LISTEN ?? '');
  if (!/^127\.0\.0\.1:\d+$/.test(listen)) p.push(`sidecar must listen on loopback (I12), got ${listen}`);
  const proxy = `http://${listen}`;
  for (const k of ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy']) {
    if (agent.environment?.[k] !== proxy) p.push(`agent.environment.${k} must be ${proxy}`);
  }
  for (const k of ['NO_PROXY', 'no_proxy']) if (!String(agent.environment?.[k] ?? '').includes('127.0.0.1')) p.push(`agent.environment.${k} must exclude loopback`);
  const hcTest = (sidecar.healthcheck?.test ?? []) as string[];
  if (!hcTest.includes('dist/healthcheck.js')) p.push('the sidecar healthcheck must be dist/healthcheck.js (node, no curl)');
  if (!(sidecar.volumes ?? []).some((v: string) => /^\.\/routes:\/etc\/sanctum-sidecar:ro$/.test(v))) {
    p.push('routes must be a read-only directory mount at /etc/sanctum-sidecar (hot reload)');
  }
  if ((sidecar.volumes ?? []).some((v: string) => /routes\.yaml/.test(v))) p.push('routes.yaml mounted as a single file: edits would not be seen');

  // No cycles in start order (depends_on + network_mode: service:).
  const edges = new Map<string, string[]>();
  for (const [name, s] of Object.entries(services)) {
    const d = Object.keys(Array.isArray(s.depends_on) ? {} : s.depends_on ?? {});
    const nm = /^service:(.+)$/.exec(String(s.network_mode ?? ''));
    if (nm) d.push(nm[1]!);
    edges.set(name, d);
  }
  const state = new Map<string, number>();
  const visit = (n: string, path: string[]): void => {
    if (state.get(n) === 2) return;
    if (state.get(n) === 1) {
      p.push(`start-order cycle: ${[...path, n].join(' -> ')}`);
      return;
    }
    state.set(n, 1);
    for (const m of edges.get(n) ?? []) visit(m, [...path, n]);
    state.set(n, 2);
  };
  for (const n of edges.keys()) visit(n, []);
  return p;
}

const doc = parseYaml(TEXT, { merge: true }) as Obj;

describe('examples/compose', () => {
  it('passes the structural checks', () => {
    assert.deepEqual(composeProblems(doc), []);
  });

  it('the structural checks catch broken variants', () => {
    const mutate = (f: (d: Obj) => void): string[] => {
      const d = structuredClone(doc);
      f(d);
      return composeProblems(d);
    };
    assert.ok(mutate((d) => delete d.services.sidecar.healthcheck).some((x) => /service_healthy but sidecar has no healthcheck/.test(x)));
    assert.ok(mutate((d) => (d.services.agent.depends_on.sidecar.condition = 'service_ready')).some((x) => /condition service_ready/.test(x)));
    assert.ok(mutate((d) => (d.services.agent.network_mode = 'bridge')).some((x) => /network_mode must be service:sidecar/.test(x)));
    assert.ok(mutate((d) => (d.services.sidecar.environment.SANCTUM_SIDECAR_LISTEN = '0.0.0.0:8080')).some((x) => /loopback/.test(x)));
    assert.ok(mutate((d) => (d.services.vault.healthcheck.start_interval = '1s')).some((x) => /start_interval/.test(x)));
    assert.ok(mutate((d) => (d.services.sidecar.user = '0')).some((x) => /non-root/.test(x)));
    assert.ok(mutate((d) => (d.services.vault.depends_on = { sidecar: { condition: 'service_healthy' } })).some((x) => /cycle/.test(x)));
    assert.ok(mutate((d) => (d.services.sidecar.volumes[0] = './routes/routes.yaml:/etc/sanctum-sidecar/routes.yaml:ro')).some((x) => /single file/.test(x)));
  });

  it('docker-compose config (Debian 1.29.2) accepts the file and rejects a broken one', (t) => {
    if (!hasBinary('docker-compose')) {
      t.diagnostic('docker-compose is not installed (apt-get install docker-compose): structural checks only');
      return;
    }
    const env = { ...process.env, SANCTUM_SIDECAR_IMAGE: 'localhost/sanctum-sidecar:test' };
    const ok = spawnSync('docker-compose', ['-f', FILE, 'config', '-q'], { cwd: DIR, encoding: 'utf8', env, timeout: 30_000 });
    assert.equal(ok.status, 0, `docker-compose config failed:\n${ok.stderr}`);
    const tmp = mkdtempSync(join(tmpdir(), 'sanctum-compose-'));
    try {
      const broken = structuredClone(doc);
      broken.services.agent.depends_on.sidecar.condition = 'service_ready';
      const bad = join(tmp, 'docker-compose.yml');
      writeFileSync(bad, stringify(broken));
      const res = spawnSync('docker-compose', ['-f', bad, 'config', '-q'], { cwd: tmp, encoding: 'utf8', env, timeout: 30_000 });
      assert.notEqual(res.status, 0, 'docker-compose accepted an invalid condition');
      assert.match(res.stderr, /condition|service_ready/);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('the mounted routes.yaml passes `sanctum-sidecar check` and agrees with the dev vault and the init step', async () => {
    const routesFile = join(DIR, 'routes', 'routes.yaml');
    const res = (await sidecarCheck([routesFile])).get(routesFile)!;
    assert.equal(res.status, 0, res.output);
    const routes = parseYaml(readFileSync(routesFile, 'utf8')) as Obj;
    const vault = parseYaml(readFileSync(join(DIR, 'dev-vault', 'dev-vault.yaml'), 'utf8')) as Obj;
    assert.equal(routes.vault.socket, vault.socket, 'sidecar and dev vault must agree on the socket');
    assert.ok(vault.agents[routes.vault.agent], `agent ${routes.vault.agent} is not registered in dev-vault.yaml`);
    for (const r of routes.routes as Obj[]) {
      if (r.credential) assert.ok(vault.credentials[r.credential], `credential ${r.credential} missing from dev-vault.yaml`);
    }
    const init = readFileSync(join(DIR, 'init', 'init.mjs'), 'utf8');
    assert.ok(init.includes(`'${routes.vault.key_file}'`), 'init.mjs must install the key where routes.yaml reads it');
    assert.match(init, /chmodSync\(key, 0o400\)/);
  });

  it('the demo key is the key dev-vault.yaml registers (RFC 8032 test 1)', () => {
    const keyFile = join(DIR, 'init', 'demo-agent.key');
    const seed = Buffer.from(readFileSync(keyFile, 'utf8').trim(), 'hex');
    assert.equal(seed.length, 32);
    const pkcs8 = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
    const jwk = createPublicKey(createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' })).export({ format: 'jwk' });
    const publicHex = Buffer.from(jwk.x!, 'base64url').toString('hex');
    const vault = parseYaml(readFileSync(join(DIR, 'dev-vault', 'dev-vault.yaml'), 'utf8')) as Obj;
    assert.equal(vault.agents['demo-agent'].public_key, publicHex);
    assert.equal(publicHex, 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
    assert.ok(statSync(keyFile).isFile());
  });
});
