/**
 * A minimal DER (ITU-T X.690) encoder and reader: just what an X.509 certificate
 * needs. Node can sign and verify but has no certificate builder, and a whole ASN.1
 * library would be a runtime dependency for ~100 lines of tag-length-value. Encoders
 * return complete TLVs; the reader walks TLVs without interpreting them.
 */

/** Tag numbers used here (universal class unless noted). */
export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  SEQUENCE: 0x30,
  SET: 0x31,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
} as const;

function lengthBytes(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const out: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v & 0xff);
  return Buffer.from([0x80 | out.length, ...out]);
}

/** One TLV with a definite length. */
export function tlv(tag: number, content: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([tag]), lengthBytes(content.length), content]);
}

export const seq = (...items: Buffer[]): Buffer => tlv(TAG.SEQUENCE, Buffer.concat(items));

/** A SET OF: DER sorts the encoded elements (X.690 §11.6). */
export const set = (...items: Buffer[]): Buffer => tlv(TAG.SET, Buffer.concat([...items].sort(Buffer.compare)));

/** A non-negative INTEGER from big-endian bytes (or a small number): minimal, with a 0x00 pad when the high bit is set. */
export function uint(value: Uint8Array | number): Buffer {
  let b: Buffer;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError('uint: expected a non-negative safe integer');
    const bytes: number[] = [];
    for (let v = value; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
    b = Buffer.from(bytes.length === 0 ? [0] : bytes);
  } else {
    b = Buffer.from(value);
  }
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  b = b.subarray(i);
  if (b.length === 0) b = Buffer.from([0]);
  if (b[0]! & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return tlv(TAG.INTEGER, b);
}

/** An OBJECT IDENTIFIER from dotted decimal. */
export function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map((p) => {
    if (!/^\d+$/.test(p)) throw new RangeError(`oid: bad arc in ${dotted}`);
    return Number(p);
  });
  if (parts.length < 2) throw new RangeError(`oid: too short: ${dotted}`);
  const out: number[] = [parts[0]! * 40 + parts[1]!];
  for (const arc of parts.slice(2)) {
    const enc: number[] = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) enc.unshift(0x80 | (v & 0x7f));
    out.push(...enc);
  }
  return tlv(TAG.OID, Buffer.from(out));
}

export const bool = (v: boolean): Buffer => tlv(TAG.BOOLEAN, Buffer.from([v ? 0xff : 0x00]));
export const nul = (): Buffer => tlv(TAG.NULL, Buffer.alloc(0));
export const octets = (b: Uint8Array): Buffer => tlv(TAG.OCTET_STRING, b);
export const utf8 = (s: string): Buffer => tlv(TAG.UTF8_STRING, Buffer.from(s, 'utf8'));

/** IA5String (ASCII only; dNSName in subjectAltName). */
export function ia5(s: string): Buffer {
  if (!/^[\x00-\x7f]*$/.test(s)) throw new RangeError('ia5: non-ASCII');
  return tlv(TAG.IA5_STRING, Buffer.from(s, 'ascii'));
}

/** A BIT STRING holding whole bytes (a public key, a signature). */
export const bits = (b: Uint8Array): Buffer => tlv(TAG.BIT_STRING, Buffer.concat([Buffer.from([0]), b]));

/**
 * A named-bit BIT STRING (KeyUsage): bit 0 is the most significant bit of the first
 * byte; DER drops trailing zero bits and records how many are unused (X.690 §11.2.2).
 */
export function namedBits(set: readonly number[]): Buffer {
  if (set.length === 0) return tlv(TAG.BIT_STRING, Buffer.from([0]));
  const highest = Math.max(...set);
  const bytes = Buffer.alloc(Math.floor(highest / 8) + 1);
  for (const bit of set) bytes[Math.floor(bit / 8)]! |= 0x80 >> bit % 8;
  const unused = 7 - (highest % 8);
  return tlv(TAG.BIT_STRING, Buffer.concat([Buffer.from([unused]), bytes]));
}

/** X.509 Time: UTCTime for 1950–2049, GeneralizedTime otherwise (RFC 5280 §4.1.2.5). Seconds precision, Zulu. */
export function time(d: Date): Buffer {
  const y = d.getUTCFullYear();
  const p2 = (n: number): string => String(n).padStart(2, '0');
  const rest = `${p2(d.getUTCMonth() + 1)}${p2(d.getUTCDate())}${p2(d.getUTCHours())}${p2(d.getUTCMinutes())}${p2(d.getUTCSeconds())}Z`;
  if (y >= 1950 && y < 2050) return tlv(TAG.UTC_TIME, Buffer.from(`${p2(y % 100)}${rest}`, 'ascii'));
  return tlv(TAG.GENERALIZED_TIME, Buffer.from(`${String(y).padStart(4, '0')}${rest}`, 'ascii'));
}

/** Context-specific constructed `[n]` (EXPLICIT tagging wraps a whole TLV). */
export const explicit = (n: number, inner: Buffer): Buffer => tlv(0xa0 | n, inner);

/** Context-specific primitive `[n]` IMPLICIT (replaces the tag of a primitive value). */
export const implicitPrimitive = (n: number, content: Uint8Array): Buffer => tlv(0x80 | n, content);

/** One TLV found by the reader: `tag`, the content's bounds, and the whole element's end. */
export interface Node {
  readonly tag: number;
  readonly start: number;
  readonly contentStart: number;
  readonly end: number;
}

/** Read the TLV at `offset` (definite lengths only, as DER requires). */
export function readNode(buf: Uint8Array, offset: number): Node {
  if (offset + 2 > buf.length) throw new RangeError('der: truncated');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new RangeError('der: multi-byte tags are not supported');
  let len = buf[offset + 1]!;
  let p = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new RangeError('der: unsupported length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p++]!;
  }
  const end = p + len;
  if (end > buf.length) throw new RangeError('der: truncated');
  return { tag, start: offset, contentStart: p, end };
}

/** The children of a constructed node. */
export function children(buf: Uint8Array, node: Node): Node[] {
  const out: Node[] = [];
  for (let p = node.contentStart; p < node.end; ) {
    const c = readNode(buf, p);
    out.push(c);
    p = c.end;
  }
  return out;
}
