/**
 * Punycode (`xn--`) host labels, checked by our own rules rather than by whatever a URL
 * parser happens to accept: Node 20's WHATWG URL refused `xn--zz`, Node 24's passes every
 * `xn--` label through untouched. A label we accept must be a real IDNA2008 A-label, so
 * the name we match is the name every client library and resolver means by it.
 *
 * An `xn--` label is accepted only when (RFC 5890 §2.3.2.1, RFC 5891 §4.2.3 and §5.4):
 *   1. what follows `xn--` is a valid RFC 3492 punycode string (decoded here; we do not
 *      use the deprecated `node:punycode`), and re-encoding the result gives it back;
 *   2. the decoded label (U-label) has at least one non-ASCII character, is in NFC, and
 *      its ASCII characters are only a-z, 0-9 and `-`;
 *   3. it neither starts nor ends with `-`, has no `--` in positions 3-4, and does not
 *      start with a combining mark;
 *   4. every non-ASCII character is a lowercase or caseless letter, a mark or a decimal
 *      digit (Ll, Lo, Lm, Mn, Mc, Nd) that lowercasing and NFKC leave unchanged and that
 *      is not default-ignorable: this approximates RFC 5892's PVALID set; uppercase,
 *      compatibility forms (full-width letters), symbols and emoji, punctuation, spaces
 *      and the context-dependent joiners and middle dots are all refused;
 *   5. Arabic-Indic and Extended Arabic-Indic digits are not mixed (RFC 5892 A.8/A.9);
 *   6. the bidi rule (RFC 5893), for hosts with a right-to-left label (one with a Hebrew,
 *      Arabic, Syriac, Thaana, N'Ko or other right-to-left letter, or an Arabic-Indic
 *      digit): such a label starts with a right-to-left letter, holds only those, digits,
 *      non-spacing marks and `-`, ends with a letter or digit, and does not mix European
 *      and Arabic-Indic digits; every other label of that host starts with a left-to-right
 *      letter and ends with a letter or digit.
 * Character classes come from the Unicode properties of the runtime's regular expressions;
 * bidi classes are approximated by script. As a backstop, host.ts also refuses a host whose
 * Unicode form the runtime's own IDNA processing (UTS #46) does not turn back into exactly
 * that host: a rare disagreement, e.g. over characters newer than one side's tables.
 */

const BASE = 36;
const TMIN = 1;
const TMAX = 26;
const SKEW = 38;
const DAMP = 700;
const INITIAL_BIAS = 72;
const INITIAL_N = 0x80;
const MAXINT = 0x7fffffff;

/** RFC 3492 §6.1. */
function adapt(delta: number, numPoints: number, firstTime: boolean): number {
  let d = firstTime ? Math.floor(delta / DAMP) : delta >> 1;
  d += Math.floor(d / numPoints);
  let k = 0;
  while (d > ((BASE - TMIN) * TMAX) >> 1) {
    d = Math.floor(d / (BASE - TMIN));
    k += BASE;
  }
  return k + Math.floor(((BASE - TMIN + 1) * d) / (d + SKEW));
}

function threshold(k: number, bias: number): number {
  return k <= bias ? TMIN : k >= bias + TMAX ? TMAX : k - bias;
}

function digitValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 22; // '0'-'9' → 26-35
  if (c >= 0x61 && c <= 0x7a) return c - 0x61; // 'a'-'z' → 0-25
  if (c >= 0x41 && c <= 0x5a) return c - 0x41;
  return BASE;
}

function digitChar(d: number): string {
  return String.fromCharCode(d < 26 ? 0x61 + d : 0x30 + d - 26);
}

/** RFC 3492 §6.2 decoding of the part after `xn--`; undefined when it is not valid punycode. */
export function punycodeDecode(input: string): string | undefined {
  const delim = input.lastIndexOf('-');
  const output: number[] = [];
  for (let j = 0; j < Math.max(delim, 0); j++) {
    const c = input.charCodeAt(j);
    if (c >= 0x80) return undefined;
    output.push(c);
  }
  let n = INITIAL_N;
  let i = 0;
  let bias = INITIAL_BIAS;
  for (let pos = delim > 0 ? delim + 1 : 0; pos < input.length; ) {
    const oldi = i;
    for (let w = 1, k = BASE; ; k += BASE) {
      if (pos >= input.length) return undefined;
      const digit = digitValue(input.charCodeAt(pos++));
      if (digit >= BASE || digit > Math.floor((MAXINT - i) / w)) return undefined;
      i += digit * w;
      const t = threshold(k, bias);
      if (digit < t) break;
      if (w > Math.floor(MAXINT / (BASE - t))) return undefined;
      w *= BASE - t;
    }
    const count = output.length + 1;
    bias = adapt(i - oldi, count, oldi === 0);
    if (Math.floor(i / count) > MAXINT - n) return undefined;
    n += Math.floor(i / count);
    i %= count;
    if (n > 0x10ffff || (n >= 0xd800 && n <= 0xdfff)) return undefined;
    output.splice(i, 0, n);
    i++;
  }
  return String.fromCodePoint(...output);
}

/** RFC 3492 §6.3 encoding (the part after `xn--`), used to check that a label is canonical. */
export function punycodeEncode(text: string): string {
  const input = Array.from(text, (ch) => ch.codePointAt(0) ?? 0);
  let out = input.filter((c) => c < 0x80).map((c) => String.fromCharCode(c)).join('');
  const basic = out.length;
  let handled = basic;
  if (basic > 0) out += '-';
  let n = INITIAL_N;
  let delta = 0;
  let bias = INITIAL_BIAS;
  while (handled < input.length) {
    const m = Math.min(...input.filter((c) => c >= n));
    delta += (m - n) * (handled + 1);
    n = m;
    for (const c of input) {
      if (c < n) delta++;
      if (c !== n) continue;
      let q = delta;
      for (let k = BASE; ; k += BASE) {
        const t = threshold(k, bias);
        if (q < t) break;
        out += digitChar(t + ((q - t) % (BASE - t)));
        q = Math.floor((q - t) / (BASE - t));
      }
      out += digitChar(q);
      bias = adapt(delta, handled + 1, handled === basic);
      delta = 0;
      handled++;
    }
    delta++;
    n++;
  }
  return out;
}

const LETTER_DIGIT = /^[\p{Ll}\p{Lo}\p{Lm}\p{Mn}\p{Mc}\p{Nd}]$/u;
const IGNORABLE = /^\p{Default_Ignorable_Code_Point}$/u;
const MARK = /^\p{M}$/u;
const NSM = /^\p{Mn}$/u;
const LETTER = /^\p{L}$/u;
const DIGIT = /^\p{Nd}$/u;
const RTL_SCRIPT =
  /^[\p{Script=Hebrew}\p{Script=Arabic}\p{Script=Syriac}\p{Script=Thaana}\p{Script=Nko}\p{Script=Samaritan}\p{Script=Mandaic}\p{Script=Adlam}\p{Script=Hanifi_Rohingya}\p{Script=Mende_Kikakui}\p{Script=Yezidi}]$/u;
/** Bidi class AN (Arabic numbers) and the Extended Arabic-Indic digits (class EN). */
const ARABIC_INDIC = /^[\u0660-\u0669]$/;
const EXT_ARABIC_INDIC = /^[\u06f0-\u06f9]$/;
/** RFC 5892 §2.6 exceptions: PVALID although their category says otherwise, and DISALLOWED although it says PVALID. */
const PVALID_EXCEPTIONS = new Set(['\u00df', '\u03c2', '\u06fd', '\u06fe', '\u0f0b', '\u3007']);
const DISALLOWED_EXCEPTIONS = /^[\u0640\u07fa\u302e\u302f\u3031-\u3035\u303b]$/;
/** Characters lowercasing leaves alone but case folding does not: Cherokee small letters fold to capitals. */
const FOLDS_TO_UPPER = /^[\u13f8-\u13fd\uab70-\uabbf]$/;
/** Characters whose full case folding is not themselves yet are PVALID (NFKC_Casefold leaves them). */
const FOLD_STABLE = new Set(['\u00df', '\u03c2', '\u0131']);

/**
 * Bidi class R or AL, approximated by script: a character of a right-to-left script that
 * is not a mark or an Arabic-Indic digit (the N'Ko digits, for one, are class R).
 */
const isRtlLetter = (c: string): boolean => RTL_SCRIPT.test(c) && !MARK.test(c) && !ARABIC_INDIC.test(c) && !EXT_ARABIC_INDIC.test(c);

/**
 * Why an `xn--` label (already lowercased) is not a valid A-label, or undefined when it is.
 * The reason is safe to show: it never quotes the label.
 */
export function aLabelProblem(label: string): string | undefined {
  const u = punycodeDecode(label.slice(4));
  if (u === undefined || u.length === 0) return 'does not decode as punycode';
  if (punycodeEncode(u) !== label.slice(4)) return 'is not the canonical punycode of what it decodes to';
  if (!/[^\x00-\x7f]/.test(u)) return 'decodes to plain ASCII';
  if (u.normalize('NFC') !== u) return 'decodes to a label that is not in Unicode NFC';
  const chars = Array.from(u);
  if (u.startsWith('-') || u.endsWith('-')) return 'decodes to a label that starts or ends with a hyphen';
  if (chars[2] === '-' && chars[3] === '-') return 'decodes to a label with "--" in positions 3-4';
  if (MARK.test(chars[0] ?? '')) return 'decodes to a label that starts with a combining mark';
  for (const ch of chars) {
    if (ch < '\x80') {
      if (!/^[a-z0-9-]$/.test(ch)) return 'decodes to a label with ASCII characters other than a-z, 0-9 and "-"';
    } else if (!isPValid(ch)) {
      return 'decodes to a character IDNA2008 does not allow in host names';
    }
  }
  if (chars.some((c) => ARABIC_INDIC.test(c)) && chars.some((c) => EXT_ARABIC_INDIC.test(c))) {
    return 'decodes to a label mixing Arabic-Indic and Extended Arabic-Indic digits';
  }
  return undefined;
}

/** Approximates RFC 5892's PVALID for one non-ASCII character (see the module comment, rule 4). */
function isPValid(ch: string): boolean {
  if (PVALID_EXCEPTIONS.has(ch)) return true;
  if (!LETTER_DIGIT.test(ch) || IGNORABLE.test(ch) || DISALLOWED_EXCEPTIONS.test(ch) || FOLDS_TO_UPPER.test(ch)) return false;
  if (ch.toLowerCase() !== ch || ch.normalize('NFKC') !== ch) return false;
  return FOLD_STABLE.has(ch) || ch.toUpperCase().toLowerCase().normalize('NFC') === ch;
}

/**
 * Why a host's labels break IDNA, or undefined. Every `xn--` label must be a valid A-label;
 * when one of them is right-to-left, every label of the host must satisfy RFC 5893's bidi
 * rule (what a resolver and a browser apply to a "Bidi domain name").
 */
export function idnaHostProblem(labels: readonly string[]): string | undefined {
  const decoded: string[][] = [];
  for (const label of labels) {
    if (!label.startsWith('xn--')) {
      decoded.push(Array.from(label));
      continue;
    }
    const problem = aLabelProblem(label);
    if (problem) return `a punycode (xn--) label ${problem}`;
    decoded.push(Array.from(punycodeDecode(label.slice(4)) ?? ''));
  }
  const isRtl = (chars: readonly string[]): boolean => chars.some((c) => isRtlLetter(c) || ARABIC_INDIC.test(c));
  if (!decoded.some(isRtl)) return undefined;
  for (const chars of decoded) {
    if (isRtl(chars) ? !rtlLabelOk(chars) : !ltrLabelOk(chars)) return 'a punycode (xn--) host breaks the bidi rule for right-to-left names (RFC 5893)';
  }
  return undefined;
}

/** The Unicode form of a host whose labels passed `idnaHostProblem` (`xn--` labels decoded). */
export function toUnicodeHost(labels: readonly string[]): string {
  return labels.map((l) => (l.startsWith('xn--') ? (punycodeDecode(l.slice(4)) ?? l) : l)).join('.');
}

/** The last character that is not a non-spacing mark. */
function lastBase(chars: readonly string[]): string {
  let end = chars.length - 1;
  while (end > 0 && NSM.test(chars[end] ?? '')) end--;
  return chars[end] ?? '';
}

/** RFC 5893 rules 1-4: starts with R/AL; only R, AL, AN, EN, ES and NSM; ends with R, AL, EN or AN; not both EN and AN. */
function rtlLabelOk(chars: readonly string[]): boolean {
  const european = (c: string): boolean => (c >= '0' && c <= '9') || EXT_ARABIC_INDIC.test(c);
  const allowed = (c: string): boolean => isRtlLetter(c) || NSM.test(c) || european(c) || ARABIC_INDIC.test(c) || c === '-';
  if (!isRtlLetter(chars[0] ?? '') || !chars.every(allowed)) return false;
  const last = lastBase(chars);
  if (!isRtlLetter(last) && !european(last) && !ARABIC_INDIC.test(last)) return false;
  return !(chars.some(european) && chars.some((c) => ARABIC_INDIC.test(c)));
}

/** RFC 5893 rules 1, 5 and 6 for the other labels of a Bidi domain name: starts with a letter (L), ends with L or EN. */
function ltrLabelOk(chars: readonly string[]): boolean {
  const first = chars[0] ?? '';
  if (!LETTER.test(first) || isRtlLetter(first)) return false;
  const last = lastBase(chars);
  return (LETTER.test(last) && !isRtlLetter(last)) || DIGIT.test(last);
}
