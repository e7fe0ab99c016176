/**
 * Whether a failed upstream attempt is sent again (issue 18). An upstream that closes
 * idle keep-alive connections races the sidecar's pool: a request written on a pooled
 * connection just as the upstream closes it fails with "other side closed", a reset or
 * EPIPE, and the upstream never saw it, or saw it and dropped it unanswered. Like nginx,
 * the sidecar sends such a request once more, on a fresh connection, with the same
 * credential and the same bytes; unlike nginx it also does so for POSTs that say they are
 * safe to repeat.
 *
 * The rules, in the order they are checked:
 * - only connection failures (not timeouts, TLS or framing errors), only on a connection
 *   that carried an earlier request (a fresh connection failing is an answer), only
 *   before any byte of the answer arrived, and only once;
 * - the method is idempotent (RFC 9110 §9.2.2), or the request provably did not reach
 *   the upstream (the write itself failed, or the connection was already closed by the
 *   upstream when it was written), or it carries an `Idempotency-Key` (Stripe's header,
 *   draft-ietf-httpapi-idempotency-key-header), or its route sets
 *   `retry: { non_idempotent: true }`;
 * - the body, if any, is still held whole (`proxy/held-body`, up to `limits.retry_buffer`).
 *
 * undici's own `retry` interceptor is not used: it cannot tell a reused connection from
 * a fresh one (so it would repeat a POST the upstream may have processed), it retries
 * after an answer has begun (with Range), and it needs a body it can read twice. The
 * transport facts it lacks come from `proxy/connections`; this module only decides.
 */

/** Why a request was sent again: the `reason` label of `upstream_retries_total` and the log's `retried`. */
export type RetryReason = 'idempotent' | 'not_sent' | 'idempotency_key' | 'route_opt_in';

/** Why an eligible-looking failure was not retried; shapes the agent's error message. */
export type NoRetry = 'not_connection_failure' | 'fresh_connection' | 'answer_started' | 'already_retried' | 'not_idempotent' | 'body_not_held';

export type Decision = { readonly retry: true; readonly reason: RetryReason } | { readonly retry: false; readonly why: NoRetry };

/** RFC 9110 §9.2.2. TRACE is never forwarded (proxy/server), so it is not listed. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);

/** Socket-level failures of an established connection: the race this module is about. */
const CONNECTION_FAILURES = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE', 'ECONNABORTED']);

/** What the forward stage knows about a failed attempt. */
export interface FailedAttempt {
  readonly method: string;
  /** The outbound header list (lowercase names, I6). */
  readonly headers: readonly string[];
  readonly error: unknown;
  /** The connection carried an earlier request. */
  readonly reused: boolean;
  /** The connection was already closed by the upstream when this request was written. */
  readonly closedBeforeWrite: boolean;
  /** Any byte of the answer arrived (a 1xx counts). */
  readonly answerStarted: boolean;
  readonly alreadyRetried: boolean;
  /** No body, a body held whole, one still arriving (held so far), or one that cannot be sent again. */
  readonly body: 'none' | 'held' | 'pending' | 'gone';
  /** The route's `retry.non_idempotent`. */
  readonly routeOptIn: boolean;
}

function errorCode(err: unknown): string {
  return (err as { code?: unknown } | null)?.code?.toString() ?? '';
}

function hasIdempotencyKey(headers: readonly string[]): boolean {
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i] === 'idempotency-key' && (headers[i + 1] ?? '').trim() !== '') return true;
  }
  return false;
}

/**
 * Decide about one failed attempt. A `pending` body yields a retry decision that the
 * caller carries out only once the body has arrived whole.
 */
export function decideRetry(a: FailedAttempt): Decision {
  const code = errorCode(a.error);
  if (!CONNECTION_FAILURES.has(code)) return { retry: false, why: 'not_connection_failure' };
  if (a.alreadyRetried) return { retry: false, why: 'already_retried' };
  if (!a.reused) return { retry: false, why: 'fresh_connection' };
  if (a.answerStarted) return { retry: false, why: 'answer_started' };
  let reason: RetryReason | null = null;
  if (IDEMPOTENT.has(a.method)) reason = 'idempotent';
  // EPIPE: the kernel refused the write, so the upstream cannot have the whole request.
  else if (a.closedBeforeWrite || code === 'EPIPE') reason = 'not_sent';
  else if (hasIdempotencyKey(a.headers)) reason = 'idempotency_key';
  else if (a.routeOptIn) reason = 'route_opt_in';
  if (reason === null) return { retry: false, why: 'not_idempotent' };
  if (a.body === 'gone') return { retry: false, why: 'body_not_held' };
  return { retry: true, reason };
}

/**
 * The agent-facing message for a reused-connection failure that was not retried, or
 * undefined for the catalogue's default. Names the setting that would have allowed it.
 */
export function noRetryMessage(why: NoRetry, method: string): string | undefined {
  const lost = 'The upstream closed a reused connection before answering';
  switch (why) {
    case 'not_idempotent':
      return `${lost}; ${method} is not idempotent and the upstream may have received it, so it was not sent again (an Idempotency-Key header or the route's retry.non_idempotent allows one retry).`;
    case 'body_not_held':
      return `${lost}; the request body was larger than limits.retry_buffer and had already been streamed, so it was not sent again.`;
    case 'already_retried':
      return 'The upstream connection failed again after one retry on a fresh connection.';
    default:
      return undefined;
  }
}
