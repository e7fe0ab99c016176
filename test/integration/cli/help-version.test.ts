/**
 * The CLI's self-description: `--help` on every command exits 0 and lists every flag
 * with its environment twin; `--version` prints package.json's version; an unknown
 * flag or command exits 2 with a one-line reason and a pointer to --help, never a
 * parser stack. The full matrix runs in-process through `runCli` (what main.ts calls);
 * the binary itself is run for a few of the cases, to cover main.ts's exit codes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { COMMANDS, runCli } from '../../../src/cli/index.js';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** In-process: the same code path as the binary, minus the process start. */
async function cli(args: string[]): Promise<Result> {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (c: Buffer) => (stdout += c.toString()));
  err.on('data', (c: Buffer) => (stderr += c.toString()));
  const code = await runCli(args, {}, { stdout: out, stderr: err });
  return { code, stdout, stderr };
}

/** The real binary (src/main.ts), for the exit code main.ts sets. */
function binary(args: string[]): Promise<Result> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : Number((err as { code?: number }).code ?? -1), stdout, stderr });
    });
  });
}

const OVERRIDES: Record<string, string> = {
  listen: 'SANCTUM_SIDECAR_LISTEN',
  admin: 'SANCTUM_SIDECAR_ADMIN',
  'log-level': 'SANCTUM_SIDECAR_LOG_LEVEL',
  'vault-socket': 'SANCTUM_SIDECAR_VAULT_SOCKET',
  'vault-tcp': 'SANCTUM_SIDECAR_VAULT_TCP',
  'vault-agent': 'SANCTUM_SIDECAR_VAULT_AGENT',
  'key-file': 'SANCTUM_SIDECAR_KEY_FILE',
  'ca-dir': 'SANCTUM_SIDECAR_CA_DIR',
  'shutdown-timeout': 'SANCTUM_SIDECAR_SHUTDOWN_TIMEOUT',
  'drain-delay': 'SANCTUM_SIDECAR_DRAIN_DELAY',
  'upstream-proxy': 'SANCTUM_SIDECAR_UPSTREAM_PROXY',
};
const CONFIG = { config: 'SANCTUM_SIDECAR_CONFIG' };

/** The flags the README documents, per command, with their environment twin (or null). */
const DOCUMENTED: Record<string, Record<string, string | null>> = {
  run: { ...CONFIG, watch: 'SANCTUM_SIDECAR_WATCH', ...OVERRIDES },
  dev: { ...CONFIG, 'echo-port': null, ...OVERRIDES },
  check: { ...CONFIG, strict: null },
  explain: { ...CONFIG, host: null, agent: null, json: null },
  env: { ...CONFIG, 'proxy-url': null, 'ca-path': null, agent: null, 'token-env': null, listen: OVERRIDES.listen!, 'ca-dir': OVERRIDES['ca-dir']! },
  ca: { out: null, force: null, days: null },
  keygen: { out: null, encrypt: null, force: null },
  'dev-vault': { file: null, listen: null, socket: null, 'audit-log': null },
  injector: Object.fromEntries(
    ['tls-cert', 'tls-key', 'listen', 'values', 'image', 'image-pull-policy', 'kube-version', 'mode', 'vault-address', 'vault-agent', 'routes-configmap', 'agent-key-secret', 'strict-namespaces', 'max-body', 'drain-delay', 'shutdown-timeout', 'log-level'].map((f) => [f, null]),
  ),
};

/** The help line of `--flag` and the line after it (where env twin and default go). */
function helpEntry(help: string, flag: string): string {
  const lines = help.split('\n');
  const i = lines.findIndex((l) => new RegExp(`^\\s+(-\\w, )?--${flag}\\b`).test(l));
  assert.ok(i >= 0, `--${flag} is listed:\n${help}`);
  return `${lines[i]}\n${lines[i + 1] ?? ''}`;
}

test('every command is documented here and every --help exits 0 listing each flag with its env twin', async () => {
  assert.deepEqual(COMMANDS.map((c) => c.spec.name).sort(), Object.keys(DOCUMENTED).sort());
  const results = await Promise.all(COMMANDS.map((c) => cli([c.spec.name, '--help'])));
  COMMANDS.forEach((c, i) => {
    const r = results[i]!;
    const name = c.spec.name;
    assert.equal(r.code, 0, `${name} --help: ${r.stderr}`);
    assert.equal(r.stderr, '', `${name} --help writes only the help`);
    assert.match(r.stdout, new RegExp(`^Usage: sanctum-sidecar ${name} `));
    for (const [flag, envName] of Object.entries(DOCUMENTED[name]!)) {
      const entry = helpEntry(r.stdout, flag);
      if (envName !== null) assert.match(entry, new RegExp(`env ${envName}\\b`), `${name} --${flag}`);
    }
    // And nothing the parser accepts is missing from the help.
    for (const [flag, spec] of Object.entries(c.spec.flags)) {
      const entry = helpEntry(r.stdout, flag);
      if (spec.env !== undefined) assert.match(entry, new RegExp(`env ${spec.env}\\b`));
      if (spec.default !== undefined) assert.match(entry, new RegExp(`default ${spec.default.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    }
    assert.match(r.stdout, /-h, --help/);
  });
});

test('-h, `help <command>` and the top-level --help', async () => {
  const [short, viaHelp, top, bare] = await Promise.all([cli(['check', '-h']), cli(['help', 'explain']), cli(['--help']), cli([])]);
  assert.equal(short.code, 0);
  assert.match(short.stdout, /^Usage: sanctum-sidecar check/);
  assert.equal(viaHelp.code, 0);
  assert.match(viaHelp.stdout, /--agent NAME/);
  assert.equal(top.code, 0);
  for (const c of COMMANDS) assert.match(top.stdout, new RegExp(`^  ${c.spec.name} +\\S`, 'm'));
  assert.match(top.stdout, /--version/);
  // No command at all is a usage error: the list goes to stderr, exit 2.
  assert.equal(bare.code, 2);
  assert.match(bare.stderr, /Commands:/);
});

test('--version prints the version from package.json', async () => {
  const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
  for (const flag of ['--version', '-V']) {
    const r = await cli([flag]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `sanctum-sidecar ${version}\n`);
  }
});

test('the binary: --version, run --help, and an unknown flag, with their exit codes', async () => {
  const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
  const [v, help, bad] = await Promise.all([binary(['--version']), binary(['run', '--help']), binary(['keygen', 'x', '--no-such-flag'])]);
  assert.equal(v.code, 0, v.stderr);
  assert.equal(v.stdout, `sanctum-sidecar ${version}\n`);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /--vault-socket PATH\s.*\n\s+\(env SANCTUM_SIDECAR_VAULT_SOCKET;/);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^sanctum-sidecar keygen: unknown option '--no-such-flag'\n/);
  assert.doesNotMatch(bad.stderr, /\n\s+at /);
});

test('an unknown flag on any command exits 2 with one line and a pointer to --help, no stack', async () => {
  const results = await Promise.all(COMMANDS.map((c) => cli([c.spec.name, '--no-such-flag'])));
  COMMANDS.forEach((c, i) => {
    const r = results[i]!;
    const name = c.spec.name;
    assert.equal(r.code, 2, `${name}: ${r.stderr}`);
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines[0], `sanctum-sidecar ${name}: unknown option '--no-such-flag'`);
    assert.match(r.stderr, new RegExp(`sanctum-sidecar ${name} --help`));
    assert.ok(lines.length <= 3, r.stderr);
    assert.doesNotMatch(r.stderr, /\n\s+at |ERR_PARSE_ARGS/);
    assert.equal(r.stdout, '');
  });
});

test('other usage errors: a flag without its value, an extra argument, an unknown command', async () => {
  const [noValue, extra, unknownCmd, unknownTop] = await Promise.all([
    cli(['explain', 'GET', 'http://x.test/', '--config']),
    cli(['check', 'a.yaml', 'b.yaml']),
    cli(['frobnicate']),
    cli(['--frobnicate']),
  ]);
  assert.equal(noValue.code, 2);
  assert.match(noValue.stderr, /^sanctum-sidecar explain: option '--config' needs a value\n/);
  assert.equal(extra.code, 2);
  assert.match(extra.stderr, /^sanctum-sidecar check: unexpected argument 'b\.yaml'\n/);
  assert.equal(unknownCmd.code, 2);
  assert.match(unknownCmd.stderr, /^sanctum-sidecar: unknown command 'frobnicate'\nRun 'sanctum-sidecar --help'/);
  assert.equal(unknownTop.code, 2);
  assert.match(unknownTop.stderr, /^sanctum-sidecar: unknown option '--frobnicate'/);
});
