/**
 * The vault wire framing, shared by the client and the development vault: a 4-byte
 * big-endian unsigned length N, then exactly N bytes of UTF-8 JSON, no delimiter
 * (vault-protocol.md, "Transport").
 *
 * Limits are asymmetric on purpose: we never send more than the Python/Node SDKs
 * accept (4 MiB) and refuse to receive more than the Rust/Go SDKs send (16 MiB).
 * A refused frame leaves the stream out of step, so after any decode error the
 * owner of the socket must destroy it; the decoder stays failed.
 */
import { VaultFrameTooLargeError, VaultProtocolError } from './errors.js';

export const MAX_SEND_FRAME = 4 * 1024 * 1024;
export const MAX_RECV_FRAME = 16 * 1024 * 1024;
const HEADER_BYTES = 4;

/**
 * Encode one message as a frame. Throws VaultFrameTooLargeError (nothing is sent)
 * when the JSON exceeds `maxBytes`. The message text never appears in the error.
 */
export function encodeFrame(msg: unknown, maxBytes: number = MAX_SEND_FRAME): Buffer {
  const json = JSON.stringify(msg);
  if (json === undefined) throw new TypeError('vault frame: message is not JSON-serialisable');
  const length = Buffer.byteLength(json, 'utf8');
  if (length > maxBytes) {
    throw new VaultFrameTooLargeError({
      message: `vault request of ${length} bytes exceeds the ${maxBytes}-byte frame limit; nothing was sent`,
      context: { bytes: length, limit: maxBytes },
    });
  }
  const frame = Buffer.allocUnsafe(HEADER_BYTES + length);
  frame.writeUInt32BE(length, 0);
  frame.write(json, HEADER_BYTES, 'utf8');
  return frame;
}

/**
 * Incremental decoder. Chunks are queued untouched and each byte is copied at most
 * once, when a frame that spans chunks is assembled, so a 16 MiB frame arriving in
 * thousands of reads costs linear time.
 */
export class FrameDecoder {
  readonly #max: number;
  readonly #utf8 = new TextDecoder('utf-8', { fatal: true });
  #chunks: Buffer[] = [];
  #head = 0;
  #buffered = 0;
  /** Body length of the frame being read; -1 while waiting for its header. */
  #need = -1;
  #failed = false;

  constructor(maxBytes: number = MAX_RECV_FRAME) {
    this.#max = maxBytes;
  }

  /** Bytes received but not yet returned as a frame (non-zero means "mid-frame"). */
  get bufferedBytes(): number {
    return this.#buffered + (this.#need >= 0 ? HEADER_BYTES : 0);
  }

  /** Feed one read; returns every complete message it finishes, in order. */
  push(chunk: Buffer): unknown[] {
    if (this.#failed) throw new VaultProtocolError({ message: 'vault frame decoder already failed; the connection must be closed' });
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
    }
    const out: unknown[] = [];
    for (;;) {
      if (this.#need < 0) {
        if (this.#buffered < HEADER_BYTES) break;
        const length = this.#take(HEADER_BYTES).readUInt32BE(0);
        if (length > this.#max) {
          this.#failed = true;
          throw new VaultProtocolError({
            message: `vault frame of ${length} bytes exceeds the ${this.#max}-byte receive limit`,
            context: { bytes: length, limit: this.#max },
          });
        }
        this.#need = length;
      }
      if (this.#buffered < this.#need) break;
      const body = this.#take(this.#need);
      this.#need = -1;
      out.push(this.#parse(body));
    }
    return out;
  }

  #parse(body: Buffer): unknown {
    let text: string;
    try {
      text = this.#utf8.decode(body);
    } catch {
      this.#failed = true;
      throw new VaultProtocolError({ message: `vault frame of ${body.length} bytes is not valid UTF-8` });
    }
    try {
      return JSON.parse(text);
    } catch {
      // V8's message quotes the input, which may hold a secret: never pass it on.
      this.#failed = true;
      throw new VaultProtocolError({ message: `vault frame of ${body.length} bytes is not valid JSON` });
    }
  }

  /** Remove exactly `n` buffered bytes from the front (caller checked they exist). */
  #take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.#chunks[this.#head]!;
    if (first.length >= n) {
      this.#consume(first, n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let offset = 0;
    while (offset < n) {
      const c = this.#chunks[this.#head]!;
      const k = Math.min(c.length, n - offset);
      c.copy(out, offset, 0, k);
      offset += k;
      this.#consume(c, k);
    }
    return out;
  }

  #consume(chunk: Buffer, k: number): void {
    this.#buffered -= k;
    if (k < chunk.length) {
      this.#chunks[this.#head] = chunk.subarray(k);
      return;
    }
    this.#head++;
    // Compact occasionally instead of shift() on every chunk.
    if (this.#head === this.#chunks.length) {
      this.#chunks = [];
      this.#head = 0;
    } else if (this.#head >= 1024) {
      this.#chunks = this.#chunks.slice(this.#head);
      this.#head = 0;
    }
  }
}
