/**
 * The response guard: an upstream may reflect the credential the sidecar injected (echo
 * endpoints, error bodies that quote the key, `WWW-Authenticate`), and the agent must
 * never receive it. One guard per forwarded request on a credential route; it watches
 * every response header (names and values) and the body, streamed chunk by chunk, for
 * the needles of the injected value (guard-scanner.ts).
 *
 *   mask   (default) each occurrence becomes the same number of `*` bytes: Content-Length
 *          and framing stay valid and streams keep flowing. A hit in a header name drops
 *          that header.
 *   abort  the first occurrence ends the exchange: before the headers are sent, the
 *          agent gets 502 RESPONSE_BLOCKED; after, the connection is destroyed (a
 *          truncated or reset response), never the secret bytes.
 *
 * Compressed bodies are inflated alongside and searched (guard-inflate.ts); a hit there
 * always aborts, before the compressed chunk that holds it is written. A body in a coding
 * the guard cannot inflate is withheld (502 RESPONSE_BLOCKED): the request's
 * Accept-Encoding is narrowed to inflatable codings (header-policy.ts), so only an
 * upstream that ignores it gets there.
 *
 * Every hit is reported (route, agent, where; never the value): a warning log line and
 * `sanctum_sidecar_response_guard_total{route,action}`.
 */
import type { ResponseGuardMode } from '../config/types.js';
import type { Secret } from '../credentials/secret.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics/metrics.js';
import { InflateWatch, INFLATABLE, type Verdict } from './guard-inflate.js';
import { needlesFor, StreamScanner, textNeedles } from './guard-scanner.js';

export type GuardAction = 'masked' | 'aborted' | 'uninspectable';

export type GuardHit =
  | { readonly where: 'header'; readonly name: string; readonly action: GuardAction }
  | { readonly where: 'body'; readonly offset: number; readonly encoding: string; readonly action: GuardAction };

const EMPTY = Buffer.alloc(0);
const NO_CODINGS: readonly string[] = Object.freeze([]);
/** Hits logged per response; the counter still counts every one. */
const MAX_LOGGED_HITS = 16;

export class ResponseGuard {
  readonly #needles: readonly Buffer[];
  readonly #texts: readonly string[];
  readonly #mode: Exclude<ResponseGuardMode, 'off'>;
  readonly #report: (hit: GuardHit) => void;
  #scanner: StreamScanner | null = null;
  #inflate: InflateWatch | null = null;
  #coding = 'identity';

  constructor(needles: readonly Buffer[], mode: Exclude<ResponseGuardMode, 'off'>, report: (hit: GuardHit) => void) {
    this.#needles = needles;
    this.#texts = textNeedles(needles);
    this.#mode = mode;
    this.#report = report;
  }

  /** False when there is nothing to look for (every needle was shorter than 8 bytes). */
  get active(): boolean {
    return this.#needles.length > 0;
  }

  /** True when the body is compressed: `bodyAsync` must be used instead of `body`. */
  get inflating(): boolean {
    return this.#inflate !== null;
  }

  /**
   * Search (and in mask mode, mask) a response's headers, a flat [name, value, ...] list,
   * in place; choose how the body will be searched. Returns false when the response
   * must be withheld: a hit in abort mode, or a body coding the guard cannot inflate.
   */
  headers(list: string[]): boolean {
    let codings: string[] | null = null; // allocated only for an answer that has Content-Encoding
    for (let i = 0; i < list.length; i += 2) {
      const name = list[i]!;
      if (name === 'content-encoding') (codings ??= []).push(...list[i + 1]!.split(','));
      if (this.#found(name)) {
        if (!this.#hitHeader(name)) return false;
        list.splice(i, 2);
        i -= 2;
        continue;
      }
      const value = list[i + 1]!;
      if (this.#found(value)) {
        if (!this.#hitHeader(name)) return false;
        list[i + 1] = this.#maskText(value);
      }
    }
    const coding = codings === null ? NO_CODINGS : codings.map((c) => c.trim().toLowerCase()).filter((c) => c !== '' && c !== 'identity');
    if (coding.length === 0) {
      this.#scanner = new StreamScanner(this.#needles, this.#mode === 'mask');
      return true;
    }
    if (coding.length === 1 && INFLATABLE.has(coding[0]!)) {
      this.#coding = coding[0]!;
      this.#inflate = new InflateWatch(this.#coding, this.#needles);
      return true;
    }
    this.#report({ where: 'body', offset: 0, encoding: coding.join(', ').slice(0, 64), action: 'uninspectable' });
    return false;
  }

  /** An identity body chunk: the bytes to write now (possibly none), or null to end the response. */
  body(chunk: Buffer): Buffer | null {
    const s = this.#scanner;
    if (s === null) return chunk;
    const { ready, hits } = s.push(chunk);
    if (hits.length === 0) return ready;
    const action: GuardAction = this.#mode === 'mask' ? 'masked' : 'aborted';
    for (const offset of hits) this.#report({ where: 'body', offset, encoding: 'identity', action });
    return action === 'masked' ? ready : null;
  }

  /** A compressed body chunk: `then` gets the bytes to write now (possibly none), or null to end the response. */
  bodyAsync(chunk: Buffer, then: (out: Buffer | null) => void): void {
    this.#inflate!.feed(chunk, (v: Verdict) => {
      if (v.kind === 'write') return then(v.bytes);
      this.#report({ where: 'body', offset: v.kind === 'hit' ? v.offset : 0, encoding: this.#coding, action: v.kind === 'hit' ? 'aborted' : 'uninspectable' });
      this.close();
      then(null);
    });
  }

  /** An identity body ended: the bytes still held (never a whole needle). */
  end(): Buffer {
    return this.#scanner?.end() ?? EMPTY;
  }

  /** A compressed body ended: `then` gets what is still held, after every chunk fed so far. */
  endAsync(then: (rest: Buffer) => void): void {
    this.#inflate!.finish(then);
  }

  /** A compressed body that will not be streamed through the inflater (upgrade answers): report it withheld. */
  withhold(): void {
    this.#report({ where: 'body', offset: 0, encoding: this.#coding, action: 'uninspectable' });
    this.close();
  }

  /** Release zlib resources (the response ended early). */
  close(): void {
    this.#inflate?.close();
  }

  #found(text: string): boolean {
    // Indexed: runs for every header name and value of every guarded answer.
    const texts = this.#texts;
    for (let i = 0; i < texts.length; i++) if (text.includes(texts[i]!)) return true;
    return false;
  }

  /** Report a header hit; false when the response must be withheld (abort mode). */
  #hitHeader(name: string): boolean {
    const action: GuardAction = this.#mode === 'mask' ? 'masked' : 'aborted';
    this.#report({ where: 'header', name: /^[!#$%&'*+.^_`|~0-9a-z-]{1,64}$/.test(name) && !this.#found(name) ? name : '(a header name)', action });
    return action === 'masked';
  }

  #maskText(value: string): string {
    let out = value;
    for (const t of this.#texts) out = out.split(t).join('*'.repeat(t.length));
    return out;
  }
}

/** What a guard needs to know about its request to report a hit. */
export interface GuardContext {
  readonly id: string;
  readonly route: string;
  readonly agent: string;
  /** Called on every hit: the request's record shows the last action. */
  onAction(action: GuardAction): void;
}

/**
 * The guard for one response on a credential route, or null when the route turned it
 * off or the injected value is too short to search for.
 */
export function createGuard(
  d: { readonly metrics: Metrics; readonly log: Logger },
  value: Secret,
  mode: ResponseGuardMode,
  ctx: GuardContext,
): ResponseGuard | null {
  if (mode === 'off') return null;
  let logged = 0;
  const guard = new ResponseGuard(needlesFor(value), mode, (hit) => {
    d.metrics.responseGuard.inc([ctx.route, hit.action]);
    ctx.onAction(hit.action);
    if (logged++ < MAX_LOGGED_HITS) {
      const msg =
        hit.action === 'uninspectable'
          ? 'response guard: the upstream answer could not be searched for the injected credential and was withheld'
          : 'response guard: the upstream answer carried the injected credential';
      d.log.warn({ id: ctx.id, route: ctx.route, agent: ctx.agent, ...hit }, msg);
    }
  });
  return guard.active ? guard : null;
}
