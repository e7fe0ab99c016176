/**
 * Tripwires (gateway mode): strings that must never leave for the wrong place.
 *
 *   placeholder   a string an agent's SDKs are given instead of a key (`placeholders:`).
 *                 It belongs to the credential routes of the agent(s) that list it, and
 *                 may travel only to those routes; on any other route, and on
 *                 passthrough, it trips.
 *   proxy_token   the token the request authenticated with. It may reach no upstream.
 *                 (Only hashes are stored, so the token looked for is the one presented.)
 *
 * What is searched is what would leave: every header name, every header value except
 * Proxy-Authorization (always stripped) and, on a credential route, the values of the
 * headers that route strips and replaces (Authorization, X-Api-Key, Api-Key, its own
 * header, cookies unless kept) — a placeholder there is expected; then the path and
 * query; then the first BODY_SCAN_BYTES of the body, which are buffered and replayed in
 * front of the rest of the stream so large uploads still stream. Each is searched as
 * sent and, where an upstream would decode it, decoded (tripwire-decode.ts): header
 * values, path and query percent-decoded (the query with `+` as a space too), and an
 * application/x-www-form-urlencoded body form-decoded. Header names are compared
 * without regard to case (Node lowercases them, and so does what is forwarded).
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import type { Route } from '../routing/route.js';
import { SidecarError } from '../errors.js';
import { decodedForms, decodedTextForms, isFormBody } from './tripwire-decode.js';

export type TripKind = 'placeholder' | 'proxy_token';
export type TripPlace = 'header' | 'target' | 'body';

export interface Trip {
  readonly kind: TripKind;
  readonly where: TripPlace;
}

/** A string to look for, as text (headers, target) and bytes (body). */
export interface Needle {
  readonly text: string;
  readonly bytes: Buffer;
}

/** How much of a body is searched. Bytes past this are streamed unseen. */
export const BODY_SCAN_BYTES = 64 * 1024;
/** Shorter proxy tokens are not searched for (they would match ordinary text). */
const MIN_TOKEN_SEARCH = 8;
const NONE: readonly Needle[] = Object.freeze([]);
/** Stripped (and replaced) on every credential route, so never carried upstream (proxy/headers.ts). */
const REPLACED_ON_CREDENTIAL_ROUTES = new Set(['authorization', 'x-api-key', 'api-key']);

/** What the tripwires need of an agent (gateway/agents.ts builds them from its entries). */
export interface PlaceholderOwner {
  readonly placeholders: readonly string[];
  /** Names of the routes the agent may use. */
  readonly routes: ReadonlySet<string>;
}

/** The placeholder needles of each destination, compiled once per snapshot. */
export class Tripwires {
  readonly #byRoute = new Map<string, readonly Needle[]>();
  readonly #passthrough: readonly Needle[];

  constructor(agents: readonly PlaceholderOwner[], routes: readonly Route[]) {
    const credentialRoutes = new Set(routes.filter((r) => r.credential !== null).map((r) => r.name));
    const home = new Map<string, Set<string>>();
    for (const a of agents) {
      for (const p of a.placeholders) {
        const set = home.get(p) ?? new Set<string>();
        for (const r of a.routes) if (credentialRoutes.has(r)) set.add(r);
        home.set(p, set);
      }
    }
    const needle = (text: string): Needle => ({ text, bytes: Buffer.from(text, 'utf8') });
    this.#passthrough = [...home.keys()].map(needle);
    for (const r of routes) {
      const out = [...home].filter(([, allowed]) => !allowed.has(r.name)).map(([p]) => needle(p));
      this.#byRoute.set(r.name, out.length === 0 ? NONE : out);
    }
  }

  /** Placeholders that may not travel to `route` (null: passthrough). */
  forRoute(route: Route | null): readonly Needle[] {
    return route === null ? this.#passthrough : (this.#byRoute.get(route.name) ?? this.#passthrough);
  }
}

/** The token worth searching for, or null. */
export function searchableToken(token: string | null): string | null {
  return token !== null && token.length >= MIN_TOKEN_SEARCH ? token : null;
}

function find(text: string, needles: readonly Needle[], token: string | null): TripKind | null {
  if (token !== null && text.includes(token)) return 'proxy_token';
  for (const n of needles) if (text.includes(n.text)) return 'placeholder';
  return null;
}

function findBytes(buf: Buffer, needles: readonly Needle[], token: string | null): TripKind | null {
  if (token !== null && buf.includes(token, 0, 'utf8')) return 'proxy_token';
  for (const n of needles) if (buf.includes(n.bytes)) return 'placeholder';
  return null;
}

/** `text` as sent, then each of its percent-decoded forms. */
function findDecoded(text: string, plus: boolean, needles: readonly Needle[], token: string | null): TripKind | null {
  const kind = find(text, needles, token);
  if (kind !== null) return kind;
  for (const form of decodedTextForms(text, plus)) {
    const k = findBytes(form, needles, token);
    if (k !== null) return k;
  }
  return null;
}

/** A header name (lowercase): the needles are compared without regard to case. */
function findInName(name: string, needles: readonly Needle[], token: string | null): TripKind | null {
  if (token !== null && name.includes(token.toLowerCase())) return 'proxy_token';
  for (const n of needles) if (name.includes(n.text.toLowerCase())) return 'placeholder';
  return null;
}

/** Search the headers that would be forwarded, then the path and query. */
export function scanHeadersAndTarget(
  needles: readonly Needle[],
  token: string | null,
  headers: IncomingHttpHeaders,
  route: Route | null,
  path: string,
  query: string,
): Trip | null {
  const replaced = route !== null && route.credential !== null;
  for (const name in headers) {
    const inName = findInName(name, needles, token);
    if (inName !== null) return { kind: inName, where: 'header' };
    if (name === 'proxy-authorization') continue;
    if (replaced && (REPLACED_ON_CREDENTIAL_ROUTES.has(name) || name === route.inject.headerName || (name === 'cookie' && !route.keepCookies))) continue;
    const v = headers[name];
    if (v === undefined) continue;
    for (const one of typeof v === 'string' ? [v] : v) {
      const kind = findDecoded(one, false, needles, token);
      if (kind !== null) return { kind, where: 'header' };
    }
  }
  const inPath = findDecoded(path, false, needles, token);
  if (inPath !== null) return { kind: inPath, where: 'target' };
  const inQuery = findDecoded(query, true, needles, token);
  if (inQuery !== null) return { kind: inQuery, where: 'target' };
  return null;
}

/**
 * Read up to BODY_SCAN_BYTES of `req`, search them, and return the body to forward:
 * those bytes replayed in front of the rest of the stream (an error or abort on `req`
 * fails the replay, so the upstream request is aborted, I9).
 */
export async function scanBody(
  req: IncomingMessage,
  needles: readonly Needle[],
  token: string | null,
  idleMs: number,
): Promise<{ trip: Trip | null; body: Readable }> {
  const { head, ended } = await readHead(req, BODY_SCAN_BYTES, idleMs);
  let kind = findBytes(head, needles, token);
  if (kind === null && isFormBody(req.headers['content-type'])) {
    for (const form of decodedForms(head, true)) if ((kind = findBytes(form, needles, token)) !== null) break;
  }
  const body = Readable.from(replay(head, ended ? null : req), { objectMode: false });
  return { trip: kind === null ? null : { kind, where: 'body' }, body };
}

async function* replay(head: Buffer, rest: IncomingMessage | null): AsyncGenerator<Buffer> {
  if (head.length > 0) yield head;
  if (rest !== null) for await (const chunk of rest as AsyncIterable<Buffer>) yield chunk;
}

/** The first `limit` bytes (or the whole body if shorter), leaving `req` paused after them. */
function readHead(req: IncomingMessage, limit: number, idleMs: number): Promise<{ head: Buffer; ended: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let timer: NodeJS.Timeout | undefined;
    const finish = (err: Error | null, ended: boolean): void => {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
      if (err !== null) reject(err);
      else resolve({ head: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size), ended });
    };
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => finish(new SidecarError('REQUEST_TIMEOUT', { message: 'The request body stalled.' }), false), idleMs);
    };
    const onData = (c: Buffer): void => {
      chunks.push(c);
      size += c.length;
      arm();
      if (size >= limit) {
        req.pause();
        finish(null, false);
      }
    };
    const onEnd = (): void => finish(null, true);
    const onError = (err: Error): void => finish(new SidecarError('BAD_REQUEST', { message: 'The request body failed.', cause: err }), false);
    const onClose = (): void => {
      if (!req.complete) finish(new SidecarError('BAD_REQUEST', { message: 'The request body ended early.' }), false);
    };
    if (req.readableEnded) {
      resolve({ head: Buffer.alloc(0), ended: true });
      return;
    }
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onError);
    req.once('close', onClose);
    arm();
  });
}
