/**
 * The path and query grammar (invariant I2: reject, don't repair). A path that any
 * layer between here and the upstream could read two ways is refused: dot-segments
 * raw or percent-encoded, encoded slashes and backslashes, `;` path parameters, `//`,
 * control bytes, NUL, malformed or overlong percent-escapes, and characters outside
 * RFC 3986 `pchar`. What passes is forwarded byte for byte, so the bytes we checked are
 * the bytes that are sent. Functions return a safe message on failure, or undefined.
 */

const enum C {
  Percent = 0x25,
  Slash = 0x2f,
  Dot = 0x2e,
}

/** RFC 3986 pchar minus `;` (and `%`, handled separately): unreserved, sub-delims, ':' and '@'. */
const PCHAR = new Uint8Array(128);
for (const ch of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,=:@") {
  PCHAR[ch.charCodeAt(0)] = 1;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return -1;
}

/** Decoded byte of the escape at `i` (which is '%'), or -1 when malformed. */
function escapedByte(s: string, i: number): number {
  if (i + 2 >= s.length) return -1;
  const hi = hexValue(s.charCodeAt(i + 1));
  const lo = hexValue(s.charCodeAt(i + 2));
  return hi < 0 || lo < 0 ? -1 : (hi << 4) | lo;
}

/**
 * Check one run of percent-escapes that starts with a byte >= 0x80 and return how
 * many escapes it consumed, or -1 if it is not a valid, shortest-form UTF-8 sequence
 * (this is what catches overlongs such as `%c0%ae` and `%e0%80%ae`, and surrogates).
 */
function utf8Escapes(s: string, i: number, lead: number): number {
  let need: number;
  let min: number;
  let cp: number;
  if (lead >= 0xc2 && lead <= 0xdf) [need, min, cp] = [1, 0x80, lead & 0x1f];
  else if (lead >= 0xe0 && lead <= 0xef) [need, min, cp] = [2, 0x800, lead & 0x0f];
  else if (lead >= 0xf0 && lead <= 0xf4) [need, min, cp] = [3, 0x10000, lead & 0x07];
  else return -1;
  for (let k = 1; k <= need; k++) {
    const at = i + 3 * k;
    if (s.charCodeAt(at) !== C.Percent) return -1;
    const b = escapedByte(s, at);
    if (b < 0x80 || b > 0xbf) return -1;
    cp = (cp << 6) | (b & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return -1;
  return need + 1;
}

/**
 * Validate an origin path (starts with '/', no query). Returns a safe message naming
 * the rule that failed, or undefined when the path is acceptable.
 */
export function checkPath(path: string): string | undefined {
  if (path.charCodeAt(0) !== C.Slash) return 'the path must start with "/"';
  let segStart = 1;
  // Dot-segment detection per segment: count raw '.' and '%2e' units; any other
  // character disqualifies the segment from being "." or "..".
  let dots = 0;
  let other = false;
  for (let i = 1; i <= path.length; i++) {
    const c = i === path.length ? C.Slash : path.charCodeAt(i);
    if (c === C.Slash) {
      if (!other && (dots === 1 || dots === 2)) return 'the path contains a dot-segment ("." or "..", raw or percent-encoded)';
      if (i < path.length && i === segStart) return 'the path contains an empty segment ("//")';
      segStart = i + 1;
      dots = 0;
      other = false;
      continue;
    }
    if (c === C.Dot) {
      dots++;
      continue;
    }
    if (c === C.Percent) {
      const b = escapedByte(path, i);
      if (b < 0) return 'the path contains a malformed percent-escape';
      if (b === C.Dot) {
        dots++;
        i += 2;
        continue;
      }
      const bad = forbiddenEscape(b);
      if (bad) return bad;
      if (b >= 0x80) {
        const n = utf8Escapes(path, i, b);
        if (n < 0) return 'the path contains percent-escapes that are not valid UTF-8 (overlong or truncated)';
        i += 3 * n - 1;
      } else {
        i += 2;
      }
      other = true;
      continue;
    }
    if (c === 0x3b) return 'the path contains ";" (path parameters are not allowed)';
    if (c === 0x5c) return 'the path contains a backslash';
    if (c <= 0x20 || c >= 0x7f) return 'the path contains a space, control or non-ASCII character';
    if (PCHAR[c] !== 1) return 'the path contains a character that must be percent-encoded';
    other = true;
  }
  return undefined;
}

function forbiddenEscape(b: number): string | undefined {
  if (b === 0x2f) return 'the path contains an encoded slash (%2F)';
  if (b === 0x5c) return 'the path contains an encoded backslash (%5C)';
  if (b === 0x3b) return 'the path contains an encoded ";" (%3B)';
  if (b < 0x20 || b === 0x7f) return 'the path contains an encoded control byte or NUL';
  return undefined;
}

/**
 * Validate a query ('' or starting with '?'), kept as received: printable ASCII only, no
 * '#' (a fragment never belongs on the wire), and every '%' followed by two hex digits.
 * A malformed escape is refused as in the path: layers that decode the query would read
 * it differently (some stop decoding, some keep the '%'), and the tripwire search must
 * see the same bytes the upstream will decode.
 */
export function checkQuery(query: string): string | undefined {
  for (let i = 1; i < query.length; i++) {
    const c = query.charCodeAt(i);
    if (c === 0x23) return 'the request target contains a fragment (#)';
    if (c <= 0x20 || c >= 0x7f) return 'the query contains a space, control or non-ASCII character';
    if (c === C.Percent && escapedByte(query, i) < 0) return 'the query contains a malformed percent-escape ("%" must be followed by two hex digits; send a literal "%" as %25)';
  }
  return undefined;
}

const UNRESERVED_BYTE = new Uint8Array(128);
for (const ch of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~') UNRESERVED_BYTE[ch.charCodeAt(0)] = 1;

/**
 * The form a path is matched in: percent-escapes of unreserved characters decoded
 * (RFC 3986 §6.2.2.2 says they are equivalent, and an upstream will decode them), so
 * `/v1/%61dmin` cannot slip past a route written for `/v1/admin`. Returns the input
 * itself (no allocation) when it has no '%'. Only called on paths `checkPath` accepted.
 */
export function pathForMatching(path: string): string {
  if (!path.includes('%')) return path;
  let out = '';
  let from = 0;
  for (let i = path.indexOf('%'); i >= 0; i = path.indexOf('%', i + 1)) {
    const b = escapedByte(path, i);
    if (b >= 0 && b < 0x80 && UNRESERVED_BYTE[b] === 1) {
      out += path.slice(from, i) + String.fromCharCode(b);
      from = i + 3;
    }
  }
  return from === 0 ? path : out + path.slice(from);
}
