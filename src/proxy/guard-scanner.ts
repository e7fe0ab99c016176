/**
 * The search half of the response guard: which byte strings betray an injected
 * credential (needles), and a scanner that finds them in a body delivered in chunks.
 *
 * Needles come from the header value the sidecar injected: the whole value, the token
 * after `Bearer `/`Basic ` (any case), and the decoded password of Basic. Needles
 * shorter than MIN_NEEDLE bytes are not searched (they would match ordinary text), and
 * a needle that contains another is dropped: every occurrence of it contains an
 * occurrence of the shorter one, which is found (and masked) anyway.
 *
 * The scanner keeps back, between chunks, only the shortest tail that could still be
 * the start of a needle (at most the longest needle minus one byte). A chunk whose end
 * cannot begin a needle (an SSE event ending in "\n\n", say) is released whole at once,
 * so streams keep their pace.
 */
import type { Secret } from '../credentials/secret.js';

/** Shorter needles are not searched for. */
export const MIN_NEEDLE = 8;
const EMPTY = Buffer.alloc(0);
const STAR = 0x2a;

const cache = new WeakMap<Secret, readonly Buffer[]>();

/** The needles for an injected header value (cached per Secret, so cache hits pay nothing). */
export function needlesFor(value: Secret): readonly Buffer[] {
  let n = cache.get(value);
  if (n === undefined) {
    n = computeNeedles(value.reveal());
    cache.set(value, n);
  }
  return n;
}

/** Exported for tests: the needle strings of a raw header value. */
export function computeNeedles(raw: string): readonly Buffer[] {
  const found = new Set<string>([raw.trim()]);
  const m = /^(bearer|basic)[ \t]+(\S+)\s*$/i.exec(raw);
  if (m !== null) {
    const token = m[2]!;
    found.add(token);
    if (m[1]!.toLowerCase() === 'basic') {
      const decoded = Buffer.from(token, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon >= 0) found.add(decoded.slice(colon + 1));
    }
  }
  const texts = [...found].filter((t) => Buffer.byteLength(t, 'utf8') >= MIN_NEEDLE);
  // Drop any needle that contains another: the shorter one finds (and masks) it.
  const minimal = texts.filter((t) => !texts.some((o) => o !== t && t.includes(o)));
  return Object.freeze(minimal.map((t) => Buffer.from(t, 'utf8')));
}

/** The length of the longest suffix of `buf` that is a proper prefix of `needle`. */
function prefixTail(buf: Buffer, needle: Buffer): number {
  const first = needle[0]!;
  const from = Math.max(0, buf.length - (needle.length - 1));
  for (let p = buf.indexOf(first, from); p >= 0; p = buf.indexOf(first, p + 1)) {
    const n = buf.length - p;
    if (buf.compare(needle, 0, n, p, buf.length) === 0) return n;
  }
  return 0;
}

export interface ScanResult {
  /** Bytes that may be released now (masked when the scanner masks). */
  readonly ready: Buffer;
  /** Stream offsets (from the start of the body) of the needles found in this step. */
  readonly hits: readonly number[];
}

/**
 * Finds needles in a byte stream fed chunk by chunk, across chunk boundaries. With
 * `mask`, every occurrence is overwritten with the same number of `*` bytes (so
 * Content-Length and chunk framing stay valid); without, it only reports them.
 */
export class StreamScanner {
  readonly #needles: readonly Buffer[];
  readonly #mask: boolean;
  #tail: Buffer = EMPTY;
  /** Stream offset of the first byte of `#tail` (= bytes already released). */
  #released = 0;

  constructor(needles: readonly Buffer[], mask: boolean) {
    this.#needles = needles;
    this.#mask = mask;
  }

  /** True while bytes that could begin a needle are held back. */
  get holding(): boolean {
    return this.#tail.length > 0;
  }

  push(chunk: Buffer): ScanResult {
    let buf = this.#tail.length === 0 ? chunk : Buffer.concat([this.#tail, chunk]);
    let hits: number[] | null = null;
    const needles = this.#needles;
    for (let n = 0; n < needles.length; n++) {
      const needle = needles[n]!;
      for (let i = buf.indexOf(needle); i >= 0; i = buf.indexOf(needle, i + 1)) {
        (hits ??= []).push(this.#released + i);
        if (this.#mask) {
          // Never write into a Buffer we were handed (undici may reuse it); copy once.
          if (buf === chunk) buf = Buffer.from(chunk);
          buf.fill(STAR, i, i + needle.length);
        }
      }
    }
    let keep = 0;
    for (let n = 0; n < needles.length; n++) keep = Math.max(keep, prefixTail(buf, needles[n]!));
    const cut = buf.length - keep;
    // Copy the held tail: `buf` may be the caller's chunk.
    this.#tail = keep === 0 ? EMPTY : Buffer.from(buf.subarray(cut));
    this.#released += cut;
    return { ready: keep === 0 ? buf : buf.subarray(0, cut), hits: hits ?? NO_HITS };
  }

  /** The end of the stream: release what was held (it cannot hold a whole needle). */
  end(): Buffer {
    const t = this.#tail;
    this.#released += t.length;
    this.#tail = EMPTY;
    return t;
  }
}

const NO_HITS: readonly number[] = Object.freeze([]);

const texts = new WeakMap<readonly Buffer[], readonly string[]>();

/** Needles as latin1 text, for header values (Node hands header bytes over as latin1); cached per needle list. */
export function textNeedles(needles: readonly Buffer[]): readonly string[] {
  let t = texts.get(needles);
  if (t === undefined) {
    t = Object.freeze(needles.map((n) => n.toString('latin1')));
    texts.set(needles, t);
  }
  return t;
}
