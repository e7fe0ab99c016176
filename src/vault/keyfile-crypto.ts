/**
 * Encrypted key files (`<agent>.key.enc`), as the SanctumAI SDKs write them:
 * hex of salt(16) || nonce(24) || secretbox(seed), where the secretbox key is
 * PBKDF2-HMAC-SHA256(passphrase, salt, 100,000 iterations, 32 bytes) and the box is
 * NaCl XSalsa20-Poly1305 (vault-protocol.md, "Key files"). @noble/ciphers lives here only.
 */
import { pbkdf2, pbkdf2Sync, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { xsalsa20poly1305 } from '@noble/ciphers/salsa.js';
import { bytesToHex } from './hex.js';

export const SALT_BYTES = 16;
export const NONCE_BYTES = 24;
export const SEED_BYTES = 32;
const TAG_BYTES = 16;
/** Decoded size of an encrypted key file: 16 + 24 + 48. */
export const ENCRYPTED_BYTES = SALT_BYTES + NONCE_BYTES + SEED_BYTES + TAG_BYTES;
const ITERATIONS = 100_000;
const pbkdf2Async = promisify(pbkdf2);

/** Encrypt a seed; returns the file content (hex, no newline). Salt and nonce are random unless given (tests). */
export function encryptSeed(seed: Uint8Array, passphrase: string, salt?: Uint8Array, nonce?: Uint8Array): string {
  if (seed.length !== SEED_BYTES) throw new TypeError('seed must be 32 bytes');
  const s = salt ?? randomBytes(SALT_BYTES);
  const n = nonce ?? randomBytes(NONCE_BYTES);
  if (s.length !== SALT_BYTES || n.length !== NONCE_BYTES) throw new TypeError('salt must be 16 bytes and nonce 24 bytes');
  const key = new Uint8Array(pbkdf2Sync(Buffer.from(passphrase, 'utf8'), s, ITERATIONS, 32, 'sha256'));
  const box = xsalsa20poly1305(key, new Uint8Array(n)).encrypt(seed);
  key.fill(0);
  return bytesToHex(s) + bytesToHex(n) + bytesToHex(box);
}

/**
 * Decrypt the decoded bytes of an encrypted key file. Returns null when the
 * passphrase is wrong or the file was altered (Poly1305 cannot tell them apart).
 */
export async function decryptSeed(data: Uint8Array, passphrase: string): Promise<Uint8Array | null> {
  if (data.length !== ENCRYPTED_BYTES) return null;
  const salt = data.subarray(0, SALT_BYTES);
  const nonce = data.subarray(SALT_BYTES, SALT_BYTES + NONCE_BYTES);
  const box = data.subarray(SALT_BYTES + NONCE_BYTES);
  const key = new Uint8Array(await pbkdf2Async(Buffer.from(passphrase, 'utf8'), salt, ITERATIONS, 32, 'sha256'));
  try {
    return xsalsa20poly1305(key, nonce).decrypt(box);
  } catch {
    return null;
  } finally {
    key.fill(0);
  }
}
