/**
 * IP address bytes: the one place an address string becomes 4 or 16 bytes, for the
 * address gate (range checks on the numeric value, so every textual IPv6 spelling of
 * an address gives the same answer) and for certificates (iPAddress SANs).
 */
import { isIP } from 'node:net';

/** 4 bytes for IPv4, 16 for IPv6 (embedded dotted quads allowed), or null when `addr` is not an address. */
export function addressBytes(addr: string): Uint8Array | null {
  const family = isIP(addr);
  if (family === 4) return Uint8Array.from(addr.split('.').map(Number));
  if (family !== 6) return null;
  let text = addr.toLowerCase();
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  const out = new Uint8Array(16);
  let tail: number[] = [];
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    tail = dotted[1]!.split('.').map(Number);
    text = text.slice(0, dotted.index) + '0:0'; // placeholder groups, overwritten below
  }
  const [head, rest] = text.includes('::') ? (text.split('::') as [string, string]) : [text, null];
  const headGroups = head === '' ? [] : head.split(':');
  const restGroups = rest === null || rest === '' ? [] : rest.split(':');
  const groups =
    rest === null ? headGroups : [...headGroups, ...Array<string>(8 - headGroups.length - restGroups.length).fill('0'), ...restGroups];
  if (groups.length !== 8) return null;
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 0xff;
  });
  if (tail.length === 4) out.set(tail, 12);
  return out;
}

/** Canonical text for comparisons: IPv4 dotted quad, IPv4-mapped IPv6 folded to IPv4, other IPv6 as WHATWG prints it. */
export function canonicalAddress(addr: string): string {
  const b = addressBytes(addr);
  if (b === null) return addr.toLowerCase();
  if (b.length === 4) return b.join('.');
  if (isMappedV4(b)) return Array.from(b.subarray(12)).join('.');
  return new URL(`http://[${addr.toLowerCase().replace(/%.*$/, '')}]/`).hostname.slice(1, -1);
}

/** `::ffff:a.b.c.d` (RFC 4291 §2.5.5.2). */
export function isMappedV4(b: Uint8Array): boolean {
  if (b.length !== 16) return false;
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}
