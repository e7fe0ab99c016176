/**
 * Ed25519 (RFC 8032) with node:crypto. The client signs challenges here and the
 * development vault verifies them here, so both sides agree on exactly the bytes
 * signed: the hex-decoded challenge.
 */
import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { bytesToHex, hexToBytes } from './hex.js';

// DER headers that wrap a raw 32-byte seed (PKCS #8) or public key (SPKI), RFC 8410.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

function privateKey(seed: Uint8Array): KeyObject {
  assertSeed(seed);
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
}

/** The 32-byte public key of a 32-byte seed. */
export function publicKeyFromSeed(seed: Uint8Array): Uint8Array {
  const spki = createPublicKey(privateKey(seed)).export({ format: 'der', type: 'spki' });
  return new Uint8Array(spki.subarray(spki.length - 32));
}

/** Sign the bytes of a hex challenge; returns the 64-byte signature as 128 lowercase hex. */
export function signChallenge(seed: Uint8Array, challengeHex: string): string {
  const key = privateKey(seed);
  const msg = hexToBytes(challengeHex);
  if (msg === null) throw new TypeError('challenge is not hex');
  return bytesToHex(new Uint8Array(sign(null, msg, key)));
}

/** Verify a hex signature over the bytes of a hex challenge. False on any malformed input. */
export function verifyChallenge(publicKey: Uint8Array, challengeHex: string, signatureHex: string): boolean {
  const msg = hexToBytes(challengeHex);
  const sig = hexToBytes(signatureHex);
  if (msg === null || sig === null || sig.length !== 64 || publicKey.length !== 32) return false;
  try {
    const key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' });
    return verify(null, msg, key, sig);
  } catch {
    return false;
  }
}

function assertSeed(seed: Uint8Array): void {
  if (!(seed instanceof Uint8Array) || seed.length !== 32) throw new TypeError('Ed25519 seed must be 32 bytes');
}
