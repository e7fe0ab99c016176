// Key files: every bad input is a KeyFileError with a message that says what to do and holds no key material.
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { KeyFileError } from '../../../src/vault/errors.js';
import { bytesToHex } from '../../../src/vault/hex.js';
import { encryptSeed, loadKeyFile, writeKeyFile } from '../../../src/vault/keys.js';

const SEED_HEX = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60';
const SEED = new Uint8Array(Buffer.from(SEED_HEX, 'hex'));
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sanctum-keys-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, content: string, mode = 0o600): Promise<string> {
  const p = join(dir, name);
  await writeFile(p, content);
  await chmod(p, mode);
  return p;
}

async function rejectsKey(p: Promise<unknown>, pattern: RegExp): Promise<KeyFileError> {
  let caught: unknown;
  await p.catch((e: unknown) => (caught = e));
  assert.ok(caught instanceof KeyFileError, `expected KeyFileError, got ${String(caught)}`);
  assert.equal(caught.code, 'KEY_FILE');
  assert.match(caught.message, pattern);
  assert.ok(!caught.message.includes(SEED_HEX) && !caught.message.includes(SEED_HEX.slice(0, 16)), 'message leaks key material');
  return caught;
}

test('a plain hex seed with surrounding whitespace loads', async () => {
  const p = await file('ok.key', `  ${SEED_HEX}\n\n`);
  assert.equal(bytesToHex(await loadKeyFile(p)), SEED_HEX);
});

test('missing file', async () => {
  const e = await rejectsKey(loadKeyFile(join(dir, 'nope.key')), /does not exist/);
  assert.match(e.suggestion ?? '', /keygen/);
});

test('a directory', async () => {
  const d = join(dir, 'adir.key');
  await mkdir(d, { mode: 0o700 });
  await rejectsKey(loadKeyFile(d), /is a directory/);
});

test('wrong length says how many bytes', async () => {
  await rejectsKey(loadKeyFile(await file('short.key', SEED_HEX.slice(0, 62))), /has 31 bytes, expected 32/);
  await rejectsKey(loadKeyFile(await file('long.key', SEED_HEX + SEED_HEX)), /has 64 bytes, expected 32/);
});

test('not hex', async () => {
  await rejectsKey(loadKeyFile(await file('nothex.key', SEED_HEX.slice(0, 63) + 'z')), /not hex/);
  await rejectsKey(loadKeyFile(await file('odd.key', SEED_HEX.slice(0, 63))), /not hex/);
});

test('readable by others: refused, with the chmod that fixes it', async () => {
  const p = await file('world.key', SEED_HEX, 0o644);
  await rejectsKey(loadKeyFile(p), new RegExp(`readable by other users \\(mode 0644\\); run \`chmod 600 ${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\``));
});

test('group-readable: loads, with a warning', async () => {
  const warnings: string[] = [];
  const p = await file('group.key', SEED_HEX, 0o640);
  assert.equal(bytesToHex(await loadKeyFile(p, { warn: (m) => warnings.push(m) })), SEED_HEX);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /readable by its group/);
});

test('symlinks are followed (Kubernetes Secret mounts); the target is what is checked', async () => {
  const target = await file('target.key', SEED_HEX);
  const link = join(dir, 'link.key');
  await symlink(target, link);
  assert.equal(bytesToHex(await loadKeyFile(link)), SEED_HEX);
  const open = await file('open-target.key', SEED_HEX, 0o604);
  const link2 = join(dir, 'link2.key');
  await symlink(open, link2);
  await rejectsKey(loadKeyFile(link2), /readable by other users/);
  const dangling = join(dir, 'dangling.key');
  await symlink(join(dir, 'gone'), dangling);
  await rejectsKey(loadKeyFile(dangling), /does not exist/);
});

test('encrypted: right passphrase, wrong passphrase, no passphrase, truncated', async () => {
  const p = await file('agent.key.enc', encryptSeed(SEED, 'pw-1'));
  assert.equal(bytesToHex(await loadKeyFile(p, { passphrase: 'pw-1' })), SEED_HEX);
  await rejectsKey(loadKeyFile(p, { passphrase: 'pw-2' }), /wrong passphrase or corrupted/);
  await rejectsKey(loadKeyFile(p), /encrypted and no passphrase/);
  const t = await file('trunc.key.enc', encryptSeed(SEED, 'pw-1').slice(0, 100));
  await rejectsKey(loadKeyFile(t, { passphrase: 'pw-1' }), /has 50 bytes, expected 88/);
});

test('an encrypted file under a plain name gets a hint', async () => {
  await rejectsKey(loadKeyFile(await file('misnamed.key', encryptSeed(SEED, 'x'))), /looks encrypted/);
});

test('a huge file is not read', async () => {
  await rejectsKey(loadKeyFile(await file('huge.key', 'a'.repeat(10_000))), /far too large/);
});

test('writeKeyFile: mode 0600 in a new 0700 directory, refuses to overwrite unless forced', async () => {
  const p = join(dir, 'new', 'sub', 'w.key');
  await writeKeyFile(p, SEED);
  assert.equal((await stat(p)).mode & 0o777, 0o600);
  assert.equal((await stat(join(dir, 'new', 'sub'))).mode & 0o777, 0o700);
  assert.equal((await readFile(p, 'utf8')).trim(), SEED_HEX);
  await rejectsKey(writeKeyFile(p, SEED), /already exists/);
  await chmod(p, 0o644);
  const other = new Uint8Array(32).fill(7);
  await writeKeyFile(p, other, { force: true });
  assert.equal((await stat(p)).mode & 0o777, 0o600);
  assert.equal(bytesToHex(await loadKeyFile(p)), bytesToHex(other));
});

test('writeKeyFile encrypted round-trips through loadKeyFile', async () => {
  const p = join(dir, 'e.key.enc');
  await writeKeyFile(p, SEED, { encrypt: 'secret words' });
  assert.ok(!(await readFile(p, 'utf8')).includes(SEED_HEX));
  assert.equal(bytesToHex(await loadKeyFile(p, { passphrase: 'secret words' })), SEED_HEX);
});
