/**
 * Decoding for the tripwire search (tripwire.ts): the forms in which a placeholder or a
 * proxy token may travel and still be read as itself by the upstream. Percent-decoding
 * is done at the byte level and is lenient: each `%XX` with two hex digits becomes its
 * byte, anything else stays as it is, so one malformed escape cannot stop the decoding
 * of the rest (decodeURIComponent would throw and leave the whole text undecoded).
 * Decoding is repeated while it changes something (at most DECODE_ROUNDS times), so a
 * double-encoded string (`%2573k-…`) is found too.
 *
 * Not decoded (and so not searched in those forms): base64, JSON `\u` escapes, HTML
 * entities, compression, and any other encoding an upstream might undo.
 */

/** Percent-decoding rounds: once for what the upstream decodes, more for double encoding. */
const DECODE_ROUNDS = 3;

function hex(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  return l >= 0x61 && l <= 0x66 ? l - 0x61 + 10 : -1;
}

/**
 * One round of lenient percent-decoding of `src` (bytes). With `plus`, `+` is a space
 * (application/x-www-form-urlencoded, and the query as HTML forms send it).
 */
export function percentDecodeBytes(src: Buffer, plus: boolean): Buffer {
  const out = Buffer.allocUnsafe(src.length);
  let n = 0;
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === 0x25 && i + 2 < src.length) {
      const hi = hex(src[i + 1]!);
      const lo = hex(src[i + 2]!);
      if (hi >= 0 && lo >= 0) {
        out[n++] = (hi << 4) | lo;
        i += 2;
        continue;
      }
    }
    out[n++] = plus && c === 0x2b ? 0x20 : c;
  }
  return out.subarray(0, n);
}

/**
 * The decoded forms of `src` worth searching besides `src` itself: each round of
 * percent-decoding that changed something (and, with `plus`, the form with `+` as a
 * space). Empty when there is nothing to decode.
 */
export function decodedForms(src: Buffer, plus: boolean): Buffer[] {
  const forms: Buffer[] = [];
  let cur = src;
  for (let round = 0; round < DECODE_ROUNDS; round++) {
    const hasPercent = cur.includes(0x25);
    const hasPlus = plus && round === 0 && cur.includes(0x2b);
    if (!hasPercent && !hasPlus) break;
    const next = percentDecodeBytes(cur, plus && round === 0);
    if (next.equals(cur)) break;
    forms.push(next);
    cur = next;
  }
  return forms;
}

/** `decodedForms` for text (header values, the target); latin1 keeps each char's byte. */
export function decodedTextForms(text: string, plus: boolean): Buffer[] {
  if (!text.includes('%') && !(plus && text.includes('+'))) return [];
  return decodedForms(Buffer.from(text, 'latin1'), plus);
}

/** Is `ct` an application/x-www-form-urlencoded content type? */
export function isFormBody(ct: string | undefined): boolean {
  return ct !== undefined && /^\s*application\/x-www-form-urlencoded\s*(;|$)/i.test(ct);
}
