/**
 * Vault results (wire shape) → domain values, in one place (STYLE 2). Every parser
 * checks the shape and throws VaultProtocolError naming the member that is wrong,
 * never its value: several of these members are secrets.
 */
import { Secret } from '../credentials/secret.js';
import { VaultProtocolError } from './errors.js';
import { hexToBytes } from './hex.js';

export type HeaderType = 'bearer' | 'api_key' | 'basic' | 'custom';

export interface HttpHeaderResult {
  /** Lowercase header name. */
  headerName: string;
  headerValue: Secret;
}

export interface HttpRequestResult {
  status: number;
  headers: Record<string, string | string[]>;
  body: string;
}

export interface RetrieveResult {
  value: Secret;
  leaseId: string;
  ttl?: number;
}

export interface CredentialInfo {
  path: string;
  tags?: string[];
  type?: string;
}

/** RFC 9110 §5.6.2 token: what a header field name may be. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Bytes that would split or truncate a header line (RFC 9110 §5.5). */
const UNSAFE_VALUE = /[\r\n\0]/;

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function bad(what: string): VaultProtocolError {
  return new VaultProtocolError({ message: `vault answer: ${what}` });
}

function record(result: unknown, method: string): Record<string, unknown> {
  if (!isRecord(result)) throw bad(`${method} result is not an object`);
  return result;
}

function string(r: Record<string, unknown>, key: string, method: string): string {
  const v = r[key];
  if (typeof v !== 'string') throw bad(`${method} result has no string "${key}"`);
  return v;
}

/** `authenticate` → session id and hex challenge. */
export function parseAuthenticate(result: unknown): { sessionId: string; challenge: string } {
  const r = record(result, 'authenticate');
  const sessionId = string(r, 'session_id', 'authenticate');
  const challenge = string(r, 'challenge', 'authenticate');
  if (sessionId === '') throw bad('authenticate result has an empty "session_id"');
  if (hexToBytes(challenge) === null || challenge.length === 0) throw bad('authenticate "challenge" is not hex');
  return { sessionId, challenge };
}

/**
 * `use`/`http_header`. Accepts `{header_name, header_value}` (0.4) and the 0.1 form
 * `{header: "Name: value"}`, split at the first ": ".
 */
export function parseHttpHeader(result: unknown): HttpHeaderResult {
  const r = record(result, 'http_header');
  let name: string;
  let value: string;
  if (typeof r.header_name === 'string' && typeof r.header_value === 'string') {
    name = r.header_name;
    value = r.header_value;
  } else if (typeof r.header === 'string') {
    const at = r.header.indexOf(': ');
    if (at <= 0) throw bad('http_header "header" is not "Name: value"');
    name = r.header.slice(0, at);
    value = r.header.slice(at + 2);
  } else {
    throw bad('http_header result has neither header_name/header_value nor header');
  }
  if (!TOKEN.test(name)) throw bad('http_header name is not a valid header name');
  if (UNSAFE_VALUE.test(value)) throw bad('http_header value contains CR, LF or NUL');
  return { headerName: name.toLowerCase(), headerValue: new Secret(value) };
}

/** `use`/`http_request` → the upstream answer as the vault relayed it. */
export function parseHttpRequest(result: unknown): HttpRequestResult {
  const r = record(result, 'http_request');
  const status = r.status;
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 999) {
    throw bad('http_request "status" is not an HTTP status');
  }
  const body = r.body === undefined || r.body === null ? '' : r.body;
  if (typeof body !== 'string') throw bad('http_request "body" is not a string');
  const headers: Record<string, string | string[]> = {};
  if (r.headers !== undefined && r.headers !== null) {
    if (!isRecord(r.headers)) throw bad('http_request "headers" is not an object');
    for (const [k, v] of Object.entries(r.headers)) {
      if (!TOKEN.test(k)) throw bad('http_request has an invalid header name');
      if (typeof v === 'string') headers[k.toLowerCase()] = v;
      else if (Array.isArray(v) && v.every((x) => typeof x === 'string')) headers[k.toLowerCase()] = v as string[];
      else if (typeof v === 'number') headers[k.toLowerCase()] = String(v);
      else throw bad('http_request has a header value that is not a string');
    }
  }
  return { status, headers, body };
}

/** `use`/`sign` → base64 signature. */
export function parseSignature(result: unknown): string {
  return string(record(result, 'sign'), 'signature', 'sign');
}

/** `use`/`encrypt` → opaque ciphertext. */
export function parseCiphertext(result: unknown): string {
  return string(record(result, 'encrypt'), 'ciphertext', 'encrypt');
}

/** `use`/`decrypt` → plaintext. */
export function parsePlaintext(result: unknown): string {
  return string(record(result, 'decrypt'), 'plaintext', 'decrypt');
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** `retrieve` → the value (hex on the wire, UTF-8 text inside) wrapped in a Secret. */
export function parseRetrieve(result: unknown): RetrieveResult {
  const r = record(result, 'retrieve');
  const hex = string(r, 'value', 'retrieve');
  const leaseId = string(r, 'lease_id', 'retrieve');
  const bytes = hexToBytes(hex);
  if (bytes === null) throw bad('retrieve "value" is not hex');
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw bad('retrieve "value" is not UTF-8 text');
  } finally {
    bytes.fill(0);
  }
  const out: RetrieveResult = { value: new Secret(text), leaseId };
  if (typeof r.ttl === 'number' && Number.isFinite(r.ttl)) out.ttl = r.ttl;
  return out;
}

/** `list` → credential descriptions. Also accepts dialect B's bare array. */
export function parseList(result: unknown): CredentialInfo[] {
  const items = Array.isArray(result) ? result : isRecord(result) ? result.credentials : undefined;
  if (!Array.isArray(items)) throw bad('list result has no "credentials" array');
  return items.map((item) => {
    if (!isRecord(item) || typeof item.path !== 'string') throw bad('list entry has no string "path"');
    const info: CredentialInfo = { path: item.path };
    if (Array.isArray(item.tags)) info.tags = item.tags.filter((t): t is string => typeof t === 'string');
    if (typeof item.type === 'string') info.type = item.type;
    return info;
  });
}
