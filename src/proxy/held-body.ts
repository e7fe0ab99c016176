/**
 * A request body that streams upstream as usual and is also kept, while it stays small,
 * until the upstream answer starts (issue 18). Keeping it is what makes a retry send
 * "the same bytes": a body that outgrew `limits.retry_buffer` (or declared a larger
 * Content-Length) is forgotten and its request is never retried; it streams through
 * with backpressure and nothing is copied.
 *
 * undici reads this stream; the agent's stream underneath is read here. When undici
 * gives up on an attempt it destroys this stream, but the agent's body is deliberately
 * left alone: it keeps flowing here (collected while it still fits, else discarded), so
 * a retry can wait for the rest of a small body, and an agent whose request failed is
 * not left blocked mid-upload before it can read the sidecar's error (`whenEnded`).
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

  /** `declared`: the agent's Content-Length, if any; a body already known to be too large is never held. */
  constructor(src: Readable, limit: number, declared?: number) {
    super();
    this.#src = src;
    this.#limit = limit;
    if (limit === 0 || (declared !== undefined && declared > limit)) this.#chunks = null;
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

  /**
   * Resolves once the agent's body has ended (or failed), once it has been silent for
   * `idleMs`, or after `maxMs`. A retry waits for the rest of a small body this way (then
   * reads `hold`); an error answer waits so the agent reads it instead of a reset from a
   * connection closed under its upload (nginx's lingering close, done before answering).
   */
  whenEnded(idleMs: number, maxMs: number): Promise<void> {
    if (this.#ended || this.#src.destroyed || this.#src.readableEnded) return Promise.resolve();
    return new Promise((resolve) => {
      const src = this.#src;
      const done = (): void => {
        clearTimeout(idle);
        clearTimeout(max);
        src.off('data', onData).off('end', done).off('error', done).off('close', done);
        resolve();
      };
      const idle = setTimeout(done, idleMs);
      const max = setTimeout(done, maxMs);
      const onData = (): void => void idle.refresh();
      idle.unref();
      max.unref();
      src.on('data', onData).once('end', done).once('error', done).once('close', done);
    });
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
  }
}
