/**
 * The response guard for compressed bodies (gzip, deflate, br): the compressed bytes are
 * relayed untouched, and a copy is inflated alongside with node:zlib and searched.
 * Masking is impossible without re-encoding, so a hit ends the response before the
 * compressed chunk that carries the secret is written.
 *
 * Each compressed chunk is held until its inflated output has been searched: zlib runs
 * on the thread pool, and its write callback fires once all output of that chunk has
 * been pushed (checked on Node 20 and 24 against a one-shot inflate of every prefix).
 * While the inflated text ends in what could be the start of a needle, the compressed
 * chunks are held too (the next chunk decides), up to MAX_HELD bytes; past that, or on
 * a stream zlib cannot decode, the response is ended (nothing unsearched is released).
 */
import type { Transform } from 'node:stream';
import { constants, createBrotliDecompress, createGunzip, createInflate, createInflateRaw } from 'node:zlib';
import { StreamScanner } from './guard-scanner.js';

/** Codings the guard can inflate (RFC 9110 §8.4.1; x-gzip is gzip). */
export const INFLATABLE = new Set(['gzip', 'x-gzip', 'deflate', 'br']);

/** Compressed bytes held back while the inflated text may be the start of a needle. */
const MAX_HELD = 1024 * 1024;
const EMPTY = Buffer.alloc(0);

export type Verdict =
  /** Write these bytes now (possibly none). */
  | { readonly kind: 'write'; readonly bytes: Buffer }
  /** A needle was found in the inflated body at `offset`: end the response, write nothing more. */
  | { readonly kind: 'hit'; readonly offset: number }
  /** The stream cannot be searched (corrupt, or too much held back): end the response. */
  | { readonly kind: 'uninspectable' };

function inflaterFor(coding: string, first: number): Transform {
  const zlibOpts = { flush: constants.Z_SYNC_FLUSH, finishFlush: constants.Z_SYNC_FLUSH };
  switch (coding) {
    case 'br':
      return createBrotliDecompress({ flush: constants.BROTLI_OPERATION_FLUSH, finishFlush: constants.BROTLI_OPERATION_FLUSH });
    case 'deflate':
      // "deflate" is zlib-wrapped (RFC 9110 §8.4.1.2), but some servers send raw deflate;
      // a zlib header has compression method 8 in the low nibble of its first byte.
      return (first & 0x0f) === 0x08 ? createInflate(zlibOpts) : createInflateRaw(zlibOpts);
    default:
      return createGunzip(zlibOpts);
  }
}

type Job = { readonly chunk: Buffer; readonly then: (v: Verdict) => void } | { readonly chunk: null; readonly then: (rest: Buffer) => void };

export class InflateWatch {
  readonly #coding: string;
  readonly #scanner: StreamScanner;
  #inflater: Transform | null = null;
  #held: Buffer[] = [];
  #heldBytes = 0;
  #failed = false;
  #hit: number | null = null;
  /**
   * Chunks wait their turn: a dispatcher may deliver the next chunk before the verdict on
   * the previous one (pausing it is advisory), and verdicts must come in body order.
   */
  readonly #queue: Job[] = [];
  #busy = false;
  /** Re-entrancy guard: a verdict may synchronously resume the upstream, which feeds more. */
  #looping = false;
  /** The verdict callback of the chunk being inflated (zlib may fail without calling back). */
  #pending: ((v: Verdict) => void) | null = null;

  constructor(coding: string, needles: readonly Buffer[]) {
    this.#coding = coding;
    this.#scanner = new StreamScanner(needles, false);
  }

  /** Inflate and search `chunk`; `then` receives the verdict once its output has been searched. */
  feed(chunk: Buffer, then: (v: Verdict) => void): void {
    this.#queue.push({ chunk, then });
    if (!this.#busy) this.#next();
  }

  /**
   * The body ended: once every chunk fed so far has its verdict, `then` receives what is
   * still held. Every byte received has been inflated and searched (sync flush), and what
   * the inflated text ends in is no whole needle.
   */
  finish(then: (rest: Buffer) => void): void {
    this.#queue.push({ chunk: null, then });
    if (!this.#busy) this.#next();
  }

  close(): void {
    this.#inflater?.destroy();
    this.#inflater = null;
    this.#failed = true;
  }

  #next(): void {
    if (this.#looping) return;
    this.#looping = true;
    try {
      while (!this.#busy) {
        const job = this.#queue.shift();
        if (job === undefined) return;
        this.#busy = true;
        if (job.chunk === null) {
          const rest = this.#held.length === 0 ? EMPTY : Buffer.concat(this.#held, this.#heldBytes);
          this.#held = [];
          this.#heldBytes = 0;
          this.close();
          this.#busy = false;
          job.then(rest);
          continue;
        }
        this.#inflate(job.chunk, (v) => {
          this.#busy = false;
          job.then(v);
          this.#next();
        });
      }
    } finally {
      this.#looping = false;
    }
  }

  #inflate(chunk: Buffer, then: (v: Verdict) => void): void {
    if (this.#hit !== null) return then({ kind: 'hit', offset: this.#hit });
    if (this.#failed) return then({ kind: 'uninspectable' });
    if (chunk.length === 0) return then({ kind: 'write', bytes: EMPTY });
    const z = (this.#inflater ??= this.#start(chunk[0]!));
    this.#pending = then;
    z.write(chunk, (err?: Error | null) => {
      if (this.#pending !== then) return;
      this.#pending = null;
      this.#drain();
      if (this.#hit !== null) return then({ kind: 'hit', offset: this.#hit });
      if (err || this.#failed) return then({ kind: 'uninspectable' });
      this.#held.push(chunk);
      this.#heldBytes += chunk.length;
      if (this.#scanner.holding) {
        return then(this.#heldBytes > MAX_HELD ? { kind: 'uninspectable' } : { kind: 'write', bytes: EMPTY });
      }
      const bytes = this.#held.length === 1 ? this.#held[0]! : Buffer.concat(this.#held, this.#heldBytes);
      this.#held = [];
      this.#heldBytes = 0;
      then({ kind: 'write', bytes });
    });
  }

  #start(first: number): Transform {
    const z = inflaterFor(this.#coding, first);
    z.on('error', () => {
      this.#failed = true;
      const p = this.#pending;
      this.#pending = null;
      p?.({ kind: 'uninspectable' });
    });
    // Output is read as it is produced, so zlib never waits on its readable buffer.
    z.on('readable', () => this.#drain());
    return z;
  }

  #drain(): void {
    const z = this.#inflater;
    if (z === null) return;
    for (let b = z.read() as Buffer | null; b !== null; b = z.read() as Buffer | null) {
      if (this.#hit !== null) continue;
      const { hits } = this.#scanner.push(b);
      if (hits.length > 0) this.#hit = hits[0]!;
    }
  }
}
