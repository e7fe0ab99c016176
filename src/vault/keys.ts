/**
 * Agent key files: loading (plain hex seed or encrypted `.key.enc`), permission
 * checks, and writing new ones for `keygen`.
 *
 * Security decisions (SECURITY.md I12): the path is followed through symlinks because
 * Kubernetes mounts Secrets that way, but the target must be a regular file that
 * other users cannot read. Every failure is a KeyFileError whose message names the
 * path and the fix and never contains key material.
 */
import { constants, promises as fs } from 'node:fs';
import { dirname } from 'node:path';
import { KeyFileError } from './errors.js';
import { hexToBytes, bytesToHex } from './hex.js';
import { decryptSeed, encryptSeed, ENCRYPTED_BYTES, SEED_BYTES } from './keyfile-crypto.js';

export { publicKeyFromSeed, signChallenge } from './ed25519.js';
export { encryptSeed } from './keyfile-crypto.js';

/** Key files are a few hundred bytes; anything much larger is not one, and is not read. */
const MAX_KEY_FILE_BYTES = 4096;

export interface LoadKeyFileOptions {
  /** Required for `.enc` files. */
  passphrase?: string;
  /** Called with a warning (group-readable file). */
  warn?: (msg: string) => void;
}

/** True when the path names an encrypted key file (`<agent>.key.enc`). */
export function isEncryptedKeyPath(path: string): boolean {
  return path.endsWith('.enc');
}

/** Load a 32-byte Ed25519 seed from a key file. Throws KeyFileError. */
export async function loadKeyFile(path: string, opts: LoadKeyFileOptions = {}): Promise<Uint8Array> {
  let st;
  try {
    st = await fs.stat(path); // follows symlinks: the target is what must be safe
  } catch (err) {
    throw fsError(path, err);
  }
  if (!st.isFile()) {
    const kind = st.isDirectory() ? 'a directory' : 'not a regular file';
    throw keyError(path, `Key file ${path} is ${kind}`, 'Point vault.key_file at the key file itself (sanctum-sidecar keygen <agent> creates one).');
  }
  const mode = st.mode & 0o777;
  if (mode & 0o004) {
    throw keyError(
      path,
      `Key file ${path} is readable by other users (mode ${octal(mode)}); run \`chmod 600 ${path}\``,
      'In Kubernetes, mount the Secret with defaultMode: 0400 (or 0440 with fsGroup).',
    );
  }
  if (mode & 0o040) opts.warn?.(`Key file ${path} is readable by its group (mode ${octal(mode)}); consider \`chmod 600 ${path}\``);
  if (st.size > MAX_KEY_FILE_BYTES) {
    throw keyError(path, `Key file ${path} is ${st.size} bytes, far too large for a key file`, 'Expected 64 hex characters (a 32-byte seed).');
  }

  let text: string;
  try {
    text = (await fs.readFile(path, 'utf8')).trim();
  } catch (err) {
    throw fsError(path, err);
  }
  const bytes = hexToBytes(text);
  if (bytes === null) {
    throw keyError(path, `Key file ${path} is not hex text`, 'A key file holds the 32-byte seed as 64 hex characters.');
  }
  if (isEncryptedKeyPath(path)) return decrypt(path, bytes, opts.passphrase);
  if (bytes.length !== SEED_BYTES) {
    const hint = bytes.length === ENCRYPTED_BYTES ? ' (it looks encrypted: name it <agent>.key.enc)' : '';
    throw keyError(path, `Key file ${path} has ${bytes.length} bytes, expected 32${hint}`, 'Generate a new key with `sanctum-sidecar keygen <agent>`.');
  }
  return bytes;
}

async function decrypt(path: string, bytes: Uint8Array, passphrase: string | undefined): Promise<Uint8Array> {
  if (passphrase === undefined || passphrase === '') {
    throw keyError(path, `Key file ${path} is encrypted and no passphrase was given`, 'Set SANCTUM_KEY_PASSPHRASE.');
  }
  if (bytes.length !== ENCRYPTED_BYTES) {
    throw keyError(path, `Encrypted key file ${path} has ${bytes.length} bytes, expected ${ENCRYPTED_BYTES}`, 'Re-create it with `sanctum-sidecar keygen <agent> --encrypt`.');
  }
  const seed = await decryptSeed(bytes, passphrase);
  if (seed === null) {
    throw keyError(path, `Cannot decrypt key file ${path}: wrong passphrase or corrupted file`, 'Check SANCTUM_KEY_PASSPHRASE.');
  }
  return seed;
}

export interface WriteKeyFileOptions {
  /** Passphrase: write the encrypted form. */
  encrypt?: string;
  /** Overwrite an existing file. */
  force?: boolean;
}

/** Write a key file with mode 0600, creating its directory with mode 0700. Refuses to overwrite unless `force`. */
export async function writeKeyFile(path: string, seed: Uint8Array, opts: WriteKeyFileOptions = {}): Promise<void> {
  if (seed.length !== SEED_BYTES) throw new TypeError('seed must be 32 bytes');
  const content = (opts.encrypt !== undefined ? encryptSeed(seed, opts.encrypt) : bytesToHex(seed)) + '\n';
  try {
    await fs.mkdir(dirname(path), { recursive: true, mode: 0o700 });
  } catch (err) {
    throw fsError(dirname(path), err);
  }
  const flags = opts.force ? constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC : constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL;
  let handle;
  try {
    handle = await fs.open(path, flags, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw keyError(path, `Key file ${path} already exists`, 'Pass --force to overwrite it (the old key stops working).');
    }
    throw fsError(path, err);
  }
  try {
    // An overwritten file keeps its old mode; make sure it ends up 0600.
    await handle.chmod(0o600);
    await handle.writeFile(content, 'utf8');
  } finally {
    await handle.close();
  }
}

function fsError(path: string, err: unknown): KeyFileError {
  const code = (err as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT':
      return keyError(path, `Key file ${path} does not exist`, 'Create one with `sanctum-sidecar keygen <agent>` or fix vault.key_file.', err);
    case 'EACCES':
    case 'EPERM':
      return keyError(path, `Key file ${path} cannot be read by this user (${code})`, 'Check the owner and mode of the file and its directories.', err);
    case 'ENOTDIR':
      return keyError(path, `Key file ${path}: a parent of this path is not a directory`, undefined, err);
    case 'ELOOP':
      return keyError(path, `Key file ${path}: too many symbolic links`, undefined, err);
    default:
      return keyError(path, `Key file ${path} cannot be used (${code ?? 'error'})`, undefined, err);
  }
}

function keyError(path: string, message: string, suggestion?: string, cause?: unknown): KeyFileError {
  return new KeyFileError({ message, suggestion, context: { path }, cause });
}

function octal(mode: number): string {
  return '0' + mode.toString(8).padStart(3, '0');
}
