/**
 * `use`/`http_request`: the dev vault makes the request with the credential, so the
 * caller never sees it. undici `request()` only (never fetch, which follows
 * redirects and forwards credentials cross-origin); redirects come back as they are.
 *
 * The host is resolved once, every address checked (SSRF_BLOCKED unless public or,
 * with allow_loopback, loopback), and the connection pinned to the checked
 * addresses through `connect.lookup`, so a second DNS answer cannot slip an internal
 * address in. Text bodies, 30 s overall, answer capped to fit one frame.
 */
import { lookup } from 'node:dns/promises';
import { isIP, type LookupFunction } from 'node:net';
import { Agent, request } from 'undici';
import { addressRefusal } from './address.js';
import { Fault } from './fault.js';
import { buildHeader } from './operations.js';

export interface HttpRequestOptions {
  allowLoopback: boolean;
  /** Checks the target host against the policy's allowed_domains; throws a Fault. */
  checkHost: (host: string) => void;
  /** Aborted when the vault closes. */
  signal: AbortSignal;
  timeoutMs?: number;
}

const TIMEOUT_MS = 30_000;
/** Leaves room for headers and JSON escaping within the 4 MiB frame. */
const MAX_BODY_BYTES = 3 * 1024 * 1024;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Never taken from the caller: framing, hop-by-hop (RFC 9110 §7.6.1) and credential-bearing headers. */
const DROPPED = new Set([
  'host', 'connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'proxy-authenticate', 'te', 'trailer',
  'transfer-encoding', 'upgrade', 'content-length', 'expect', 'authorization', 'x-api-key', 'api-key', 'cookie',
]);

export async function httpRequest(secret: string, path: string, params: Record<string, unknown>, opts: HttpRequestOptions): Promise<Record<string, unknown>> {
  const method = params.method ?? 'GET';
  if (typeof method !== 'string' || !TOKEN.test(method)) throw new Fault('INVALID_PARAMS', 'http_request needs a method');
  if (typeof params.url !== 'string') throw new Fault('INVALID_PARAMS', 'http_request needs an absolute url');
  let url: URL;
  try {
    url = new URL(params.url);
  } catch {
    throw new Fault('INVALID_PARAMS', 'http_request url is not an absolute URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Fault('INVALID_PARAMS', 'http_request url must be http or https');
  if (url.username !== '' || url.password !== '') throw new Fault('INVALID_PARAMS', 'http_request url must not contain userinfo');
  const body = params.body ?? '';
  if (typeof body !== 'string') throw new Fault('INVALID_PARAMS', 'http_request body must be a string');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  opts.checkHost(host.toLowerCase());

  const headers = outboundHeaders(params.headers);
  const [name, value] = buildHeader(secret, path, params.header_type, params.header_name);
  headers[name.toLowerCase()] = value;

  const addresses = await resolve(host, opts.allowLoopback);
  const pinned: LookupFunction = (_hostname, options, callback) => {
    if ((options as { all?: boolean }).all) (callback as (e: null, a: typeof addresses) => void)(null, addresses);
    else callback(null, addresses[0]!.address, addresses[0]!.family);
  };
  const timeoutMs = opts.timeoutMs ?? TIMEOUT_MS;
  const dispatcher = new Agent({ connect: { lookup: pinned, timeout: timeoutMs }, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(new Fault('UPSTREAM_TIMEOUT', `request to ${url.origin} took longer than ${timeoutMs} ms`)), timeoutMs);
  const onVaultClose = (): void => abort.abort(new Fault('UPSTREAM_ERROR', 'the vault is shutting down'));
  opts.signal.addEventListener('abort', onVaultClose, { once: true });
  try {
    const res = await request(url, {
      method,
      headers,
      body: body === '' && (method === 'GET' || method === 'HEAD') ? null : body,
      dispatcher,
      signal: abort.signal,
    });
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY_BYTES) {
        res.body.destroy();
        throw new Fault('RESPONSE_TOO_LARGE', `the answer from ${url.origin} exceeds ${MAX_BODY_BYTES} bytes`);
      }
      chunks.push(chunk as Buffer);
    }
    const outHeaders: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) outHeaders[k] = v;
    return { status: res.statusCode, headers: outHeaders, body: Buffer.concat(chunks).toString('utf8') };
  } catch (err) {
    if (err instanceof Fault) throw err;
    if (abort.signal.aborted && abort.signal.reason instanceof Fault) throw abort.signal.reason;
    const code = (err as { code?: string }).code ?? (err as Error).name;
    if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
      throw new Fault('UPSTREAM_TIMEOUT', `request to ${url.origin} timed out (${code})`);
    }
    throw new Fault('UPSTREAM_ERROR', `request to ${url.origin} failed (${code})`);
  } finally {
    clearTimeout(timer);
    opts.signal.removeEventListener('abort', onVaultClose);
    await dispatcher.destroy().catch(() => undefined);
  }
}

function outboundHeaders(raw: unknown): Record<string, string> {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new Fault('INVALID_PARAMS', 'http_request headers must be an object');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (!TOKEN.test(k) || typeof v !== 'string' || /[\r\n\0]/.test(v)) throw new Fault('INVALID_PARAMS', 'http_request headers must map header names to single-line strings');
    const name = k.toLowerCase();
    if (!DROPPED.has(name)) out[name] = v;
  }
  return out;
}

async function resolve(host: string, allowLoopback: boolean): Promise<{ address: string; family: number }[]> {
  let addresses: { address: string; family: number }[];
  if (isIP(host) !== 0) addresses = [{ address: host, family: isIP(host) }];
  else {
    try {
      addresses = await lookup(host, { all: true, verbatim: true });
    } catch (err) {
      throw new Fault('UPSTREAM_ERROR', `cannot resolve ${host} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  for (const a of addresses) {
    const why = addressRefusal(a.address, allowLoopback);
    if (why !== null) {
      throw new Fault('SSRF_BLOCKED', `refusing to send a credential to ${host}: ${why}`, {
        suggestion: allowLoopback ? undefined : 'Tests may set allow_loopback: true in dev-vault.yaml to reach 127.0.0.1.',
      });
    }
  }
  if (addresses.length === 0) throw new Fault('UPSTREAM_ERROR', `cannot resolve ${host}`);
  return addresses;
}
