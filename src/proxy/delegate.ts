/**
 * Delegate mode: the vault makes the upstream call (`use` / `http_request`), so the
 * sidecar never sees the secret. Bodies are text only (the protocol carries strings)
 * and bounded (the whole exchange must fit one frame): over the route's limit is 413,
 * binary content types are 415, both before anything is sent to the vault.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { InjectSpec, Route } from '../routing/route.js';
import { SidecarError } from '../errors.js';
import { buildUpstreamHeaders, filterResponseHeaderObject, hasRequestBody } from './headers.js';
import { dropsSetCookie, requestPolicyFor } from './header-policy.js';

/** What delegate mode needs from the vault client (STYLE 9). */
export interface DelegateSource {
  useHttpRequest(
    path: string,
    req: {
      method: string;
      url: string;
      headers: Record<string, string>;
      body: string;
      headerType: InjectSpec['headerType'];
      headerName?: string;
    },
  ): Promise<{ status: number; headers: Record<string, string | string[]>; body: string }>;
}

const TEXT_TYPES = /^(?:text\/|application\/(?:json|[a-z0-9.+-]*\+json|x-www-form-urlencoded|xml|[a-z0-9.+-]*\+xml|javascript|graphql|x-ndjson)\b)/i;

/** True when a request with this content type may be delegated. No content type is fine (empty or text). */
export function isTextContentType(ct: string | undefined): boolean {
  if (ct === undefined || ct.trim() === '') return true;
  if (!TEXT_TYPES.test(ct.trim())) return false;
  const charset = /charset\s*=\s*"?([^";\s]+)/i.exec(ct);
  return charset === null || /^(utf-?8|us-ascii)$/i.test(charset[1]!);
}

/**
 * Read a request body fully, refusing it once it exceeds `limit` bytes or is not valid UTF-8.
 * `source` is where the bytes come from when a tripwire search has already read the head.
 */
export async function readTextBody(req: IncomingMessage, limit: number, source: AsyncIterable<Buffer> = req): Promise<string> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    throw new SidecarError('BODY_TOO_LARGE', { message: `The request body exceeds this route's ${limit}-byte limit.` });
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of source) {
    size += chunk.length;
    if (size > limit) {
      throw new SidecarError('BODY_TOO_LARGE', { message: `The request body exceeds this route's ${limit}-byte limit.` });
    }
    chunks.push(chunk);
  }
  const buf = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
  const text = new TextDecoder('utf-8', { fatal: false }).decode(buf);
  // Binary bodies declared as text would be corrupted by the string protocol; refuse them.
  if (!Buffer.from(text, 'utf8').equals(buf)) {
    throw new SidecarError('UNSUPPORTED_MEDIA_TYPE', { message: 'The request body is not valid UTF-8 text.' });
  }
  return text;
}

/** Flatten the stripped outbound header list into the string map the protocol carries. */
export function headerListToRecord(list: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < list.length; i += 2) {
    const name = list[i]!;
    // Framing and Host are the vault's to generate for its own request.
    if (name === 'host' || name === 'content-length') continue;
    const v = list[i + 1]!;
    out[name] = out[name] === undefined ? v : `${out[name]}, ${v}`;
  }
  return out;
}

/**
 * Delegate one request: check and read the text body, strip the agent's headers exactly
 * as for injection (nothing is injected: the vault adds the credential), ask the vault to
 * make the call, and relay its status, headers and body. Returns what was sent, or null
 * when the agent had already gone. Throws catalogued errors, before anything is written.
 */
export async function delegateRequest(
  req: IncomingMessage,
  res: ServerResponse,
  o: {
    readonly route: Route;
    readonly credential: string;
    readonly upstreamPath: string;
    readonly connectionTokens: Set<string> | null;
    /** The body source when an earlier stage read its head (tripwires); else the request. */
    readonly body: Readable | null;
    readonly vault: DelegateSource;
    readonly authority: string;
  },
): Promise<{ status: number; bytes: number } | null> {
  const r = o.route;
  if (!isTextContentType(req.headers['content-type'])) throw new SidecarError('UNSUPPORTED_MEDIA_TYPE');
  const body = hasRequestBody(req.headers) ? await readTextBody(req, r.maxBodyBytes, o.body ?? req) : '';
  const out = buildUpstreamHeaders(req.headers, o.connectionTokens, {
    authority: o.authority,
    credentialRoute: true,
    keepCookies: r.keepCookies,
    injected: null,
    contentLength: undefined,
    policy: requestPolicyFor(r),
  });
  const answer = await o.vault.useHttpRequest(o.credential, {
    method: req.method ?? 'GET',
    url: r.upstream.origin + o.upstreamPath,
    headers: headerListToRecord(out.list),
    body,
    headerType: r.inject.headerType,
    ...(r.inject.headerName === undefined ? {} : { headerName: r.inject.headerName }),
  });
  if (res.destroyed) return null;
  const payload = Buffer.from(typeof answer.body === 'string' ? answer.body : '', 'utf8');
  // A status the vault could not have seen from an HTTP server is a malformed answer.
  const status = Number.isInteger(answer.status) && answer.status >= 200 && answer.status <= 599 ? answer.status : 502;
  const headers = filterResponseHeaderObject(answer.headers ?? {}, dropsSetCookie(r));
  headers.push('content-length', String(payload.length));
  res.writeHead(status, headers);
  res.end(req.method === 'HEAD' ? undefined : payload);
  return { status, bytes: payload.length };
}
