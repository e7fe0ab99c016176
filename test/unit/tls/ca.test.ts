/**
 * The CA on disk: `initCa` writes ca.key 0600 and ca.crt 0644 (whatever the umask),
 * refuses to replace an existing CA without force; `loadCa` refuses a key readable by
 * others (following symlinks), warns on group-readable, and refuses mismatched,
 * non-CA or expired material.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { chmod, copyFile, mkdir, mkdtemp, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initCa, loadCa } from '../../../src/tls/ca.js';
import { createCa, createLeaf, issuerFrom } from '../../../src/tls/x509.js';

const fresh = (): Promise<string> => mkdtemp(join(tmpdir(), 'ca-unit-'));

test('initCa writes ca.key 0600, ca.crt 0644 and a bundle, even under a permissive umask', async () => {
  const dir = join(await fresh(), 'ca');
  const old = process.umask(0o000);
  try {
    const r = await initCa(dir);
    assert.equal((await stat(r.keyPath)).mode & 0o777, 0o600);
    assert.equal((await stat(r.certPath)).mode & 0o777, 0o644);
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
    const bundle = await readFile(r.bundlePath, 'utf8');
    assert.ok(bundle.endsWith(await readFile(r.certPath, 'utf8')));
    assert.ok(bundle.split('BEGIN CERTIFICATE').length > 50, 'the bundle carries the public roots');
    assert.match(r.fingerprint256, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  } finally {
    process.umask(old);
  }
});

test('initCa refuses to replace an existing CA unless forced', async () => {
  const dir = await fresh();
  await initCa(dir);
  const before = await readFile(join(dir, 'ca.crt'), 'utf8');
  await assert.rejects(initCa(dir), /already exists; pass --force/);
  assert.equal(await readFile(join(dir, 'ca.crt'), 'utf8'), before);
  await initCa(dir, { force: true });
  assert.notEqual(await readFile(join(dir, 'ca.crt'), 'utf8'), before);
  assert.equal((await stat(join(dir, 'ca.key'))).mode & 0o777, 0o600);
});

test('loadCa loads what initCa wrote and can issue leaves from it', async () => {
  const dir = await fresh();
  await initCa(dir);
  const ca = await loadCa(dir);
  assert.equal(ca.cert.ca, true);
  const leaf = new X509Certificate(createLeaf('api.openai.com', ca.issuer).certPem);
  assert.ok(leaf.checkIssued(ca.cert));
  assert.ok(leaf.verify(ca.cert.publicKey));
});

test('loadCa refuses a key readable by others, also through a symlink, and warns when group-readable', async () => {
  const dir = await fresh();
  await initCa(dir);
  await chmod(join(dir, 'ca.key'), 0o644);
  await assert.rejects(loadCa(dir), /readable by other users \(mode 0644\).*chmod 600/);

  const linked = await fresh();
  await chmod(join(dir, 'ca.key'), 0o604);
  await symlink(join(dir, 'ca.key'), join(linked, 'ca.key'));
  await copyFile(join(dir, 'ca.crt'), join(linked, 'ca.crt'));
  await assert.rejects(loadCa(linked), /readable by other users/);

  await chmod(join(dir, 'ca.key'), 0o640);
  const warnings: string[] = [];
  await loadCa(linked, { warn: (m) => warnings.push(m) });
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /readable by its group/);
});

test('loadCa refuses missing files, a mismatched pair, a non-CA certificate and an expired CA', async () => {
  await assert.rejects(loadCa(join(await fresh(), 'nope')), /cannot be read.*ca init --out/);

  const a = await fresh();
  const b = await fresh();
  await initCa(a);
  await initCa(b);
  await copyFile(join(b, 'ca.crt'), join(a, 'ca.crt'));
  await assert.rejects(loadCa(a), /does not belong to the certificate/);

  const leafDir = await fresh();
  const ca = createCa();
  const leaf = createLeaf('x.example', issuerFrom(new X509Certificate(ca.certPem), ca.key));
  await writeFile(join(leafDir, 'ca.crt'), leaf.certPem);
  await writeFile(join(leafDir, 'ca.key'), leaf.keyPem, { mode: 0o600 });
  await assert.rejects(loadCa(leafDir), /not a CA certificate/);

  const oldDir = await fresh();
  const expired = createCa({ now: new Date(Date.now() - 400 * 86_400_000), days: 30 });
  await mkdir(oldDir, { recursive: true });
  await writeFile(join(oldDir, 'ca.crt'), expired.certPem);
  await writeFile(join(oldDir, 'ca.key'), expired.keyPem, { mode: 0o600 });
  await assert.rejects(loadCa(oldDir), /not valid now/);
});
