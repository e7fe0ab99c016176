/**
 * The interception CA on disk: `ca.crt` (0644) and `ca.key` (0600) in one directory,
 * written by `sanctum-sidecar ca init` and loaded from `tls.ca_dir` at start-up.
 *
 * Security decisions (SECURITY.md I12): the key path is followed through symlinks
 * (Kubernetes mounts Secrets that way) but must end at a regular file that other users
 * cannot read; a group-readable key is a warning. The certificate must be a CA, must
 * be current, and must match the key, so a mismatched pair fails at start-up rather
 * than on the first intercepted handshake. Errors name the path and the fix and never
 * contain key material.
 */
import { constants, promises as fs } from 'node:fs';
import { join, resolve } from 'node:path';
import { rootCertificates } from 'node:tls';
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { createCa, issuerFrom, type Issuer } from './x509.js';

export const CA_CERT_FILE = 'ca.crt';
export const CA_KEY_FILE = 'ca.key';
/** The public roots plus the CA, for tools whose CA variable replaces the system store. */
export const CA_BUNDLE_FILE = 'ca-bundle.crt';

/** The CA, loaded and checked. */
export interface CaMaterial {
  readonly dir: string;
  readonly certPem: string;
  readonly cert: X509Certificate;
  readonly issuer: Issuer;
}

function octal(mode: number): string {
  return `0${(mode & 0o777).toString(8)}`;
}

/** Load and check the CA in `dir`. Throws an Error whose message says what to fix. */
export async function loadCa(dir: string, opts: { warn?: (msg: string) => void; now?: Date } = {}): Promise<CaMaterial> {
  const certPath = join(dir, CA_CERT_FILE);
  const keyPath = join(dir, CA_KEY_FILE);
  const howTo = `Create one with \`sanctum-sidecar ca init --out ${dir}\`.`;
  let keyStat;
  try {
    keyStat = await fs.stat(keyPath); // follows symlinks: the target is what must be safe
  } catch {
    throw new Error(`tls.ca_dir: ${keyPath} cannot be read. ${howTo}`);
  }
  if (!keyStat.isFile()) throw new Error(`tls.ca_dir: ${keyPath} is not a regular file. ${howTo}`);
  const mode = keyStat.mode & 0o777;
  if (mode & 0o004) {
    throw new Error(
      `tls.ca_dir: the CA key ${keyPath} is readable by other users (mode ${octal(mode)}); run \`chmod 600 ${keyPath}\`. In Kubernetes, mount the Secret with defaultMode: 0400.`,
    );
  }
  if (mode & 0o040) opts.warn?.(`The CA key ${keyPath} is readable by its group (mode ${octal(mode)}); consider \`chmod 600 ${keyPath}\``);

  let certPem: string;
  let key: KeyObject;
  let cert: X509Certificate;
  try {
    certPem = await fs.readFile(certPath, 'utf8');
    cert = new X509Certificate(certPem);
  } catch {
    throw new Error(`tls.ca_dir: ${certPath} is missing or is not a PEM certificate. ${howTo}`);
  }
  try {
    key = createPrivateKey(await fs.readFile(keyPath));
  } catch {
    throw new Error(`tls.ca_dir: ${keyPath} is not a PEM private key. ${howTo}`);
  }
  if (!cert.ca) throw new Error(`tls.ca_dir: ${certPath} is not a CA certificate (basicConstraints cA is not set).`);
  if (!cert.checkPrivateKey(key)) throw new Error(`tls.ca_dir: ${keyPath} does not belong to the certificate ${certPath}.`);
  const now = (opts.now ?? new Date()).getTime();
  if (Date.parse(cert.validTo) <= now || Date.parse(cert.validFrom) > now) {
    throw new Error(`tls.ca_dir: the CA certificate ${certPath} is not valid now (${cert.validFrom} to ${cert.validTo}). ${howTo} --force`);
  }
  if (key.asymmetricKeyType !== 'ec' && key.asymmetricKeyType !== 'rsa') {
    throw new Error(`tls.ca_dir: the CA key must be EC or RSA, not ${key.asymmetricKeyType ?? 'unknown'}.`);
  }
  return { dir: resolve(dir), certPem, cert, issuer: issuerFrom(cert, key) };
}

export interface InitResult {
  readonly certPath: string;
  readonly keyPath: string;
  readonly bundlePath: string;
  readonly fingerprint256: string;
  readonly notAfter: string;
}

/**
 * Generate a CA into `dir` (created 0700 when missing). Refuses to replace an existing
 * CA unless `force`: agents trust the old certificate, and replacing it silently would
 * break every intercepted connection.
 */
export async function initCa(dir: string, opts: { force?: boolean; days?: number } = {}): Promise<InitResult> {
  const certPath = join(dir, CA_CERT_FILE);
  const keyPath = join(dir, CA_KEY_FILE);
  const bundlePath = join(dir, CA_BUNDLE_FILE);
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  if (!opts.force) {
    for (const p of [certPath, keyPath]) {
      const exists = await fs.access(p, constants.F_OK).then(
        () => true,
        () => false,
      );
      if (exists) throw new Error(`${p} already exists; pass --force to replace the CA (agents that trust the old one must be updated).`);
    }
  }
  const ca = createCa(opts.days === undefined ? {} : { days: opts.days });
  // The key is written under a temporary name with 0600 from the first byte, then renamed into place.
  await writeAtomically(keyPath, ca.keyPem, 0o600);
  await writeAtomically(certPath, ca.certPem, 0o644);
  await writeAtomically(bundlePath, `${rootCertificates.join('\n')}\n${ca.certPem}`, 0o644);
  const cert = new X509Certificate(ca.certPem);
  return { certPath, keyPath, bundlePath, fingerprint256: cert.fingerprint256, notAfter: cert.validTo };
}

async function writeAtomically(path: string, data: string, mode: number): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  const fh = await fs.open(tmp, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.chmod(mode); // the umask may have narrowed (or, for 0644, not) the mode
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.rename(tmp, path);
}
