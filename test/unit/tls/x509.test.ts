/**
 * Certificate contents: the CA and leaves built by hand are what they claim, verified
 * independently by node:crypto's X509Certificate, by `openssl verify -x509_strict` when
 * openssl is installed, and by real TLS handshakes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, connect, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { createCa, createLeaf, issuerFrom, keyIdentifier } from '../../../src/tls/x509.js';

const DAY = 86_400_000;
const ca = createCa({ commonName: 'unit test CA' });
const caCert = new X509Certificate(ca.certPem);
const issuer = issuerFrom(caCert, ca.key);

function openssl(args: string[]): string | null {
  try {
    return execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

test('the CA: self-signed, cA with pathLen 0, ECDSA P-256, ten years, key identifiers', () => {
  assert.equal(caCert.ca, true);
  assert.equal(caCert.subject, 'O=sanctum-sidecar\nCN=unit test CA');
  assert.equal(caCert.issuer, caCert.subject);
  assert.ok(caCert.verify(caCert.publicKey));
  assert.equal(caCert.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  const years = (Date.parse(caCert.validTo) - Date.now()) / (365 * DAY);
  assert.ok(years > 9.9 && years < 10.1);
  assert.ok(Date.parse(caCert.validFrom) < Date.now());
  assert.deepEqual(issuer.keyId, keyIdentifier(caCert.publicKey.export({ type: 'spki', format: 'der' })));
  const text = openssl(['version']) === null ? null : execFileSync('openssl', ['x509', '-noout', '-text'], { input: ca.certPem, encoding: 'utf8' });
  if (text !== null) {
    assert.match(text, /Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
    assert.match(text, /Key Usage: critical\s+Digital Signature, Certificate Sign, CRL Sign/);
    assert.match(text, /Subject Key Identifier/);
    assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/);
  }
});

test('a leaf: one DNS SAN, cA false, serverAuth, ECDSA P-256, 7 days, issued by the CA', () => {
  const leaf = createLeaf('api.openai.com', issuer);
  const c = new X509Certificate(leaf.certPem);
  assert.equal(c.subject, 'CN=api.openai.com');
  assert.equal(c.subjectAltName, 'DNS:api.openai.com');
  assert.equal(c.checkHost('api.openai.com'), 'api.openai.com');
  assert.equal(c.checkHost('evil.example'), undefined);
  assert.equal(c.checkHost('x.api.openai.com'), undefined);
  assert.equal(c.ca, false);
  assert.ok(c.checkIssued(caCert));
  assert.ok(c.verify(caCert.publicKey));
  assert.equal(c.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  assert.deepEqual(c.keyUsage, ['1.3.6.1.5.5.7.3.1']);
  const days = (Date.parse(c.validTo) - Date.now()) / DAY;
  assert.ok(days > 6.99 && days <= 7.01);
  assert.ok(Date.parse(c.validFrom) <= Date.now() - 3_000_000, 'back-dated for clock skew');
  assert.match(c.serialNumber, /^[0-9A-F]{32}$/);
  assert.notEqual(c.serialNumber, new X509Certificate(createLeaf('api.openai.com', issuer).certPem).serialNumber);
});

test('IP-literal leaves carry an iPAddress SAN; long names go without a CN', () => {
  assert.equal(new X509Certificate(createLeaf('127.0.0.1', issuer).certPem).subjectAltName, 'IP Address:127.0.0.1');
  const v6 = new X509Certificate(createLeaf('2001:db8::1', issuer).certPem);
  assert.equal(v6.checkIP('2001:db8::1'), '2001:db8::1');
  const long = `${'a'.repeat(63)}.${'b'.repeat(20)}.example`;
  const lc = new X509Certificate(createLeaf(long, issuer).certPem);
  assert.equal(lc.checkHost(long), long);
  assert.equal(lc.subject, 'O=sanctum-sidecar');
  assert.throws(() => createLeaf('Bad Host', issuer));
});

test('openssl verify -x509_strict accepts the chain (when openssl is installed)', (t) => {
  if (openssl(['version']) === null) {
    t.skip('openssl not installed');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'x509-'));
  writeFileSync(join(dir, 'ca.pem'), ca.certPem);
  writeFileSync(join(dir, 'leaf.pem'), createLeaf('api.anthropic.com', issuer).certPem);
  const out = execFileSync('openssl', ['verify', '-x509_strict', '-purpose', 'sslserver', '-verify_hostname', 'api.anthropic.com', '-CAfile', join(dir, 'ca.pem'), join(dir, 'leaf.pem')], { encoding: 'utf8' });
  assert.match(out, /leaf\.pem: OK/);
});

test('an RSA CA brought by an operator signs leaves with sha256WithRSAEncryption', () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const leaf = createLeaf('api.openai.com', { key: privateKey, subject: issuer.subject, keyId: null });
  const c = new X509Certificate(leaf.certPem);
  assert.ok(c.verify(publicKey));
  assert.ok(!c.verify(caCert.publicKey));
  if (openssl(['version']) !== null) {
    const text = execFileSync('openssl', ['x509', '-noout', '-text'], { input: leaf.certPem, encoding: 'utf8' });
    assert.match(text, /Signature Algorithm: sha256WithRSAEncryption/);
    assert.doesNotMatch(text, /Authority Key Identifier/);
  }
});

test('a real TLS handshake: a client trusting only the CA accepts the leaf for its servername', async () => {
  const leaf = createLeaf('api.openai.com', issuer);
  const server = createServer({ key: leaf.keyPem, cert: leaf.certPem, ALPNProtocols: ['http/1.1'] }, (s) => s.end('hi'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const shake = (servername: string): Promise<TLSSocket> =>
    new Promise((resolve, reject) => {
      const s = connect({ port, host: '127.0.0.1', servername, ca: ca.certPem, ALPNProtocols: ['http/1.1'] }, () => resolve(s));
      s.once('error', reject);
    });
  const ok = await shake('api.openai.com');
  assert.equal(ok.authorized, true);
  assert.equal(ok.alpnProtocol, 'http/1.1');
  ok.destroy();
  await assert.rejects(shake('api.anthropic.com'), /altnames|ERR_TLS_CERT_ALTNAME_INVALID/i);
  await new Promise<void>((r) => server.close(() => r()));
});
