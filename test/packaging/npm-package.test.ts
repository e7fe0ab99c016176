/**
 * The published package stands alone: `npm pack` (whose prepack builds dist/) holds
 * what a user needs and nothing of the checkout's internals, and the README's commands
 * work from the installed package: `npx sanctum-sidecar --help`, `--version`, `check`,
 * `explain`, and `dev` answering a request through the proxy, then stopping on SIGTERM.
 * The install is offline: a lockfile built from the repository's own (runtime entries
 * only) lets `npm ci --offline` take every dependency from the npm cache.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { ProxyAgent, request } from 'undici';
import { ROOT } from './helm.js';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** The node running the tests comes first on PATH: the bin's `#!/usr/bin/env node` and npx use it. */
const ENV = { ...process.env, PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`, npm_config_update_notifier: 'false' };

function sh(cmd: string, args: string[], cwd: string): Promise<Result> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, env: ENV, timeout: 240_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : Number((err as { code?: number }).code ?? -1), stdout, stderr });
    });
  });
}

const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  license: string;
  bin: Record<string, string>;
  dependencies: Record<string, string>;
  engines: Record<string, string>;
};

let work: string;
let app: string;
let files: string[];

// npm pack builds dist/ with tsc: about 20 s on a quiet machine, much more on a loaded one.
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'npm-package-'));
  const packed = await sh('npm', ['pack', '--json', '--pack-destination', work], ROOT);
  assert.equal(packed.code, 0, packed.stderr);
  const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as [{ filename: string; files: { path: string }[] }];
  files = info.files.map((f) => f.path);
  const tgz = join(work, info.filename);

  app = join(work, 'app');
  const lock = JSON.parse(await readFile(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
  const spec = `file:${tgz}`;
  const packages: Record<string, unknown> = {
    '': { name: 'app', dependencies: { [pkg.name]: spec } },
    [`node_modules/${pkg.name}`]: {
      version: pkg.version,
      resolved: spec,
      integrity: `sha512-${createHash('sha512').update(await readFile(tgz)).digest('base64')}`,
      license: pkg.license,
      dependencies: pkg.dependencies,
      bin: pkg.bin,
      engines: pkg.engines,
    },
  };
  for (const [path, entry] of Object.entries(lock.packages)) if (path !== '' && entry.dev !== true) packages[path] = entry;
  await mkdir(app);
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, dependencies: { [pkg.name]: spec } }));
  await writeFile(join(app, 'package-lock.json'), JSON.stringify({ name: 'app', lockfileVersion: 3, requires: true, packages }));
  const ci = await sh('npm', ['ci', '--offline', '--no-audit', '--no-fund'], app);
  assert.equal(ci.code, 0, ci.stderr);
}, { timeout: 480_000 });

after(async () => {
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

describe('npm pack contents', () => {
  it('ships the build, the examples the README refers to, the chart, the compose example and the licence', () => {
    for (const f of [
      'package.json',
      'README.md',
      'LICENSE',
      'SECURITY.md',
      'routes.yaml',
      'dev-vault.yaml',
      'dist/main.js',
      'dist/cli/index.js',
      'dist/healthcheck.js',
      'helm/sanctum-sidecar/Chart.yaml',
      'helm/sanctum-sidecar/values.yaml',
      'helm/sanctum-sidecar/templates/_sidecar.tpl',
      'examples/compose/docker-compose.yml',
      'examples/compose/README.md',
    ]) {
      assert.ok(files.includes(f), `${f} is in the package`);
    }
  });

  it('holds no sources, tests, benchmarks or stale build output', () => {
    const internal = files.filter((f) => /^(src|test|bench|scripts|\.sanctum|node_modules)\//.test(f) || (f.endsWith('.ts') && !f.endsWith('.d.ts')));
    assert.deepEqual(internal, []);
    // Every dist/*.js has its source in src/ (prepack cleans dist/ before building).
    const built = files.filter((f) => f.startsWith('dist/') && f.endsWith('.js'));
    assert.ok(built.length > 50, `${built.length} modules`);
    const orphans = built.filter((f) => !existsSync(join(ROOT, 'src', f.slice('dist/'.length).replace(/\.js$/, '.ts'))));
    assert.deepEqual(orphans, []);
  });

  it('LICENSE is the Apache License 2.0 that package.json declares', async () => {
    assert.equal(pkg.license, 'Apache-2.0');
    const text = await readFile(join(ROOT, 'LICENSE'), 'utf8');
    assert.match(text, /^\s*Apache License\s+Version 2\.0, January 2004\s+http:\/\/www\.apache\.org\/licenses\//);
    assert.match(text, /TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION/);
    assert.match(text, /END OF TERMS AND CONDITIONS/);
  });
});

describe('the README commands from the installed package', () => {
  it('npx sanctum-sidecar --help and --version', async () => {
    const help = await sh('npx', ['--offline', 'sanctum-sidecar', '--help'], app);
    assert.equal(help.code, 0, help.stderr);
    for (const c of ['run', 'dev', 'check', 'explain', 'env', 'ca', 'keygen', 'dev-vault']) assert.match(help.stdout, new RegExp(`^  ${c} `, 'm'));
    const version = await sh('npx', ['--offline', 'sanctum-sidecar', '--version'], app);
    assert.equal(version.code, 0, version.stderr);
    assert.equal(version.stdout, `sanctum-sidecar ${pkg.version}\n`);
  });

  it('check and explain on the shipped example routes.yaml', async () => {
    const example = 'node_modules/sanctum-sidecar/routes.yaml';
    const check = await sh('npx', ['--offline', 'sanctum-sidecar', 'check', example], app);
    assert.equal(check.code, 0, check.stderr);
    assert.match(check.stdout, /routes\.yaml: OK \(5 routes/);
    const explain = await sh('npx', ['--offline', 'sanctum-sidecar', 'explain', 'POST', 'http://api.openai.com/v1/chat/completions', '--config', example], app);
    assert.equal(explain.code, 0, explain.stderr);
    assert.match(explain.stdout, /route\s+openai\n/);
    assert.match(explain.stdout, /upstream\s+https:\/\/api\.openai\.com\/v1\/chat\/completions/);
  });

  it('dev starts with the shipped example, injects a credential, and stops on SIGTERM', async () => {
    const proc = spawn(join(app, 'node_modules', '.bin', 'sanctum-sidecar'), ['dev', '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0'], {
      cwd: app,
      env: ENV,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | string>((resolve) => proc.once('exit', (code, sig) => resolve(code ?? sig ?? -1)));
    let stderr = '';
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let out = '';
        proc.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          const m = /"proxy":"[^"]*:(\d+)"/.exec(out);
          if (m) resolve(Number(m[1]));
        });
        void exited.then((code) => reject(new Error(`dev exited (${code}) before listening: ${stderr}`)));
      });
      assert.match(stderr, /no \.\/routes\.yaml here; using the example .*node_modules\/sanctum-sidecar\/routes\.yaml/);
      const agent = new ProxyAgent({ uri: `http://127.0.0.1:${port}`, proxyTunnel: false });
      try {
        const res = await request('http://echo.local/hello', { dispatcher: agent, headers: { authorization: 'Bearer sk-sanctum-placeholder' } });
        assert.equal(res.statusCode, 200);
        const body = (await res.body.json()) as { headers: Record<string, string> };
        assert.match(body.headers.authorization!, /^Bearer sk-dev… \(\d+ chars, sha256:[0-9a-f]{12}\)$/);
      } finally {
        await agent.close();
      }
    } finally {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
    }
    assert.equal(await exited, 0, stderr);
  });
});
