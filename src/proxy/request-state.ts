/**
 * The state of one request as it moves through the pipeline: one object, filled in by
 * the stages and read once by the record stage (`proxy/record.ts`).
 */
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import type { Route } from '../config/types.js';
import type { RequestForm } from '../routing/types.js';
import type { ErrorCode } from '../errors.js';
import type { CacheEvent } from '../credentials/resolver.js';
import type { Outcome } from '../metrics/metrics.js';
import type { Caller } from '../gateway/auth.js';
import type { RetryReason } from './retry.js';

/** Per-request state; one object, filled as the stages run, read once by `record`. */
/** Request ids: a per-process random prefix and a counter; unique across restarts, no UUID per request. */
const ID_PREFIX = randomBytes(4).toString('hex');
let seq = 0;

export class RequestState {
  readonly id = `${ID_PREFIX}-${(++seq).toString(36)}`;
  readonly start = performance.now();
  readonly startBytesRead: number;
  route: Route | null = null;
  host: string | null = null;
  code: ErrorCode | null = null;
  outcome: Outcome = 'error';
  status = 0;
  vaultMs: number | null = null;
  upstreamStart = 0;
  upstreamMs: number | null = null;
  bytesOut = 0;
  cache: CacheEvent | null = null;
  cancel: (() => void) | null = null;
  settled = false;
  /** Gateway mode: the identified agent. */
  caller: Caller | null = null;
  /** The body to forward when the tripwire stage has read its head (replayed in front of the rest). */
  body: Readable | null = null;
  /** Ends the stream count of a rate limit. */
  release: (() => void) | null = null;
  /** `limits.retry_buffer` of this request's snapshot (I13). */
  retryBufferBytes = 0;
  /** Why the request was sent upstream a second time, or null (issue 18). */
  retried: RetryReason | null = null;

  constructor(
    readonly req: IncomingMessage,
    public form: RequestForm,
  ) {
    this.startBytesRead = req.socket?.bytesRead ?? 0;
  }
}
