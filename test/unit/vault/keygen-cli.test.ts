// `sanctum-sidecar keygen`: writes a 0600 key, prints the public key, refuses clearly with exit code 2.
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, test } from 'node:test';
import { bytesToHex } from '../../../src/vault/hex.js';
import { runKeygenCommand } from '../../../src/cli/keygen.js';
import { loadKeyFile, publicKeyFromSeed } from '../../../src/vault/keys.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sanctum-keygen-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function run(args: string[], env: NodeJS.ProcessEnv = {}, prompt?: (q: string) => Promise<string>): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d) => (out += d));
  stderr.on('data', (d) => (err += d));
  const code = await runKeygenCommand(args, { stdout, stderr, env, home: dir, ...(prompt ? { prompt } : {}) });
  return { code, out, err };
}

test('default path ~/.sanctum/keys/<agent>.key, mode 0600, prints the matching public key and how to register it', async () => {
  const r = await run(['alpha']);
  assert.equal(r.code, 0, r.err);
  const file = join(dir, '.sanctum', 'keys', 'alpha.key');
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  assert.equal((await stat(join(dir, '.sanctum', 'keys'))).mode & 0o777, 0o700);
  const pub = r.out.split('\n')[0]!;
  assert.match(pub, /^[0-9a-f]{64}$/);
  assert.equal(bytesToHex(publicKeyFromSeed(await loadKeyFile(file))), pub);
  assert.match(r.out, new RegExp(`alpha: \\{ public_key: ${pub} \\}`));
  assert.match(r.out, /dev-vault\.yaml/);
});

test('refuses to overwrite without --force (exit 2), overwrites with it', async () => {
  const out = join(dir, 'b.key');
  assert.equal((await run(['beta', '--out', out])).code, 0);
  const again = await run(['beta', '--out', out]);
  assert.equal(again.code, 2);
  assert.match(again.err, /already exists.*--force/);
  assert.equal((await run(['beta', '--out', out, '--force'])).code, 0);
});

test('--encrypt takes the passphrase from SANCTUM_KEY_PASSPHRASE and writes <agent>.key.enc', async () => {
  const r = await run(['gamma', '--encrypt'], { SANCTUM_KEY_PASSPHRASE: 'pw' });
  assert.equal(r.code, 0, r.err);
  const file = join(dir, '.sanctum', 'keys', 'gamma.key.enc');
  const seed = await loadKeyFile(file, { passphrase: 'pw' });
  assert.equal(bytesToHex(publicKeyFromSeed(seed)), r.out.split('\n')[0]);
});

test('--encrypt prompts twice when there is no env passphrase and a terminal', async () => {
  const answers = ['pw2', 'pw2'];
  const r = await run(['delta', '--encrypt', '--out', join(dir, 'd.key.enc')], {}, async () => answers.shift()!);
  assert.equal(r.code, 0, r.err);
  const mismatch = ['a', 'b'];
  const bad = await run(['eps', '--encrypt', '--out', join(dir, 'e.key.enc')], {}, async () => mismatch.shift()!);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /do not match/);
});

test('usage errors exit 2 with a message', async () => {
  for (const [args, pattern] of [
    [[], /exactly one agent/],
    [['a', 'b'], /exactly one agent/],
    [['../evil'], /must be letters/],
    [['x', '--bogus'], /unknown option '--bogus'/],
    [['x', '--encrypt', '--out', join(dir, 'x.key')], /must end in \.enc/],
    [['x', '--out', join(dir, 'x.key.enc')], /read as encrypted/],
  ] as const) {
    const r = await run([...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
    assert.match(r.err, pattern);
    assert.match(r.err, /usage: sanctum-sidecar keygen/);
  }
});

test('--encrypt without a passphrase and without a terminal exits 2', async () => {
  if (process.stdin.isTTY) return; // the default would prompt; covered above with an injected prompt
  const r = await run(['zeta', '--encrypt', '--out', join(dir, 'z.key.enc')]);
  assert.equal(r.code, 2);
  assert.match(r.err, /SANCTUM_KEY_PASSPHRASE/);
});

test('an unwritable destination exits 2', async () => {
  const blocker = join(dir, 'blocker');
  await writeFile(blocker, 'x');
  const r = await run(['eta', '--out', join(blocker, 'k.key')]);
  assert.equal(r.code, 2);
  assert.match(r.err, /blocker/);
});
