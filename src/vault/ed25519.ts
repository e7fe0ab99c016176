/**
 * The one home of @noble/ed25519: pure Ed25519 (RFC 8032) over node:crypto's SHA-512.
 * The client signs challenges here and the development vault verifies them here, so
 * both sides agree on exactly the bytes signed: the hex-decoded challenge.
 */
import { createHash } from 'node:crypto';
import * as ed from '@noble/ed25519';
import { bytesToHex, hexToBytes } from './hex.js';

// noble v3 ships no synchronous SHA-512; node:crypto's is fast and always present.
ed.hashes.sha512 = (m: Uint8Array) => new Uint8Array(createHash('sha512').update(m).digest());

/** The 32-byte public key of a 32-byte seed. */
export function publicKeyFromSeed(seed: Uint8Array): Uint8Array {
  assertSeed(seed);
  return ed.getPublicKey(seed);
}

/** Sign the bytes of a hex challenge; returns the 64-byte signature as 128 lowercase hex. */
export function signChallenge(seed: Uint8Array, challengeHex: string): string {
  assertSeed(seed);
  const msg = hexToBytes(challengeHex);
  if (msg === null) throw new TypeError('challenge is not hex');
  return bytesToHex(ed.sign(msg, seed));
}

/** Verify a hex signature over the bytes of a hex challenge. False on any malformed input. */
export function verifyChallenge(publicKey: Uint8Array, challengeHex: string, signatureHex: string): boolean {
  const msg = hexToBytes(challengeHex);
  const sig = hexToBytes(signatureHex);
  if (msg === null || sig === null || sig.length !== 64 || publicKey.length !== 32) return false;
  try {
    return ed.verify(sig, msg, publicKey, { zip215: false });
  } catch {
    return false;
  }
}

function assertSeed(seed: Uint8Array): void {
  if (!(seed instanceof Uint8Array) || seed.length !== 32) throw new TypeError('Ed25519 seed must be 32 bytes');
}
