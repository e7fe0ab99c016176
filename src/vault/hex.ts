/**
 * Strict hex helpers. `Buffer.from(s, 'hex')` silently stops at the first bad
 * character, which would turn a corrupted key file or challenge into a shorter
 * value instead of an error; these refuse anything that is not whole hex bytes.
 */

const HEX = /^(?:[0-9a-fA-F]{2})*$/;

/** True when `s` is an even-length string of hex digits (empty counts). */
export function isHex(s: string): boolean {
  return HEX.test(s);
}

/** Decode strict hex; returns null instead of throwing so callers word their own error. */
export function hexToBytes(s: string): Uint8Array | null {
  if (!isHex(s)) return null;
  return new Uint8Array(Buffer.from(s, 'hex'));
}

/** Lowercase hex of `bytes`. */
export function bytesToHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
