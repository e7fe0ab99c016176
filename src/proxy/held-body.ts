/**
 * A request body that streams upstream as usual and is also kept, while it stays small,
 * until the upstream answer starts (issue 18). Keeping it is what makes a retry send
 * "the same bytes": a body that outgrew `limits.retry_buffer` is forgotten and its
 * request is never retried, so large uploads stream exactly as before.
 *
 * undici reads this stream; the agent's stream underneath is read here. When undici
 * gives up on an attempt it destroys this stream, but the agent's body is deliberately
 * left alone: it keeps flowing here (collected while it still fits, else discarded), so
 * a retry can wait for the rest of a small body, and an agent whose request failed is
 * not left blocked mid-upload before it can read the sidecar's error.
 */
import { Readable } from 'node:stream';

export type BodyHold =
  /** Every byte arrived and is held: a retry can send it again. */
  | 'held'
  /** Still arriving, and what arrived so far is held. */
  | 'pending'
  /** Too large (or released, or the agent's stream failed): cannot be sent again. */
  | 'gone';

export class HeldBody extends Readable {
  readonly #src: Readable;
  readonly #limit: number;
  #chunks: Buffer[] | null = [];
  #size = 0;
  #ended = false;
  #waiters: Array<(ok: boolean) => void> = [];

  constructor(src: Readable, limit: number) {
    super();
    this.#src = src;
    this.#limit = limit;
    src.on('data', this.#onData);
    src.once('end', this.#onEnd);
    src.once('error', this.#onError);
    src.once('close', this.#onClose);
  }

  /** Whether the body can be sent again. */
  get hold(): BodyHold {
    if (this.#chunks === null) return 'gone';
    return this.#ended ? 'held' : 'pending';
  }

  /** The held body, once `hold` is `held`. */
  replay(): Buffer {
    if (this.#chunks === null || !this.#ended) throw new Error('the body is not held');
    return this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks, this.#size);
  }

  /** Resolves true when a pending body has arrived whole and is held, false when it cannot be. */
  whenSettled(): Promise<boolean> {
    if (this.hold !== 'pending') return Promise.resolve(this.hold === 'held');
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** The answer has started (or the request is over): nothing will be sent again. */
  release(): void {
    this.#drop();
  }

  override _read(): void {
    if (!this.#ended) this.#src.resume();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // undici is done with this attempt; keep draining the agent's body (see the module note).
    if (!this.#ended) this.#src.resume();
    cb(err);
  }

  readonly #onData = (chunk: Buffer): void => {
    if (this.#chunks !== null) {
      this.#size += chunk.length;
      if (this.#size <= this.#limit) this.#chunks.push(chunk);
      else this.#drop();
    }
    if (this.destroyed) return;
    if (!this.push(chunk)) this.#src.pause();
  };

  readonly #onEnd = (): void => {
    this.#ended = true;
    if (!this.destroyed) this.push(null);
    this.#settle();
  };

  readonly #onError = (err: Error): void => {
    this.#drop();
    if (!this.destroyed) this.destroy(err);
  };

  readonly #onClose = (): void => {
    // Closed without its end: the agent went away mid-body.
    if (this.#ended) return;
    this.#drop();
    if (!this.destroyed) this.destroy(new Error('the request body was cut off'));
  };

  #drop(): void {
    this.#chunks = null;
    this.#settle();
  }

  #settle(): void {
    const w = this.#waiters;
    if (w.length === 0) return;
    this.#waiters = [];
    const ok = this.hold === 'held';
    for (const f of w) f(ok);
  }
}
