/**
 * The error catalogue: every failure the sidecar answers for itself has a stable code,
 * an HTTP status, a message that is safe to show the (untrusted) agent, and a cause
 * that goes only to the log. `toReply()` is the one place that turns an error into a
 * response; anything not in the catalogue becomes a generic 500 with details only in
 * the log (STYLE 4). Vault errors are mapped here too, so the statuses on the protocol
 * page live in exactly one table.
 */
import { VaultError } from './vault/errors.js';

export interface CatalogueEntry {
  readonly status: number;
  /** Default message, safe for the agent. Call sites may pass a more specific safe message. */
  readonly message: string;
  /** Seconds for Retry-After when the entry carries one by default. */
  readonly retryAfter?: number;
}

/** Every code the sidecar can put in `x-sanctum-error`. README's error table mirrors this. */
export const CATALOGUE = {
  BAD_TARGET: { status: 400, message: 'The request target is malformed or ambiguous and was refused.' },
  HOST_MISMATCH: { status: 400, message: 'The Host header disagrees with the request target.' },
  DUPLICATE_HEADER: { status: 400, message: 'A header that must appear once was sent more than once.' },
  FORBIDDEN_HEADER: { status: 400, message: 'The request names a protected header in Connection or sends a forbidden header.' },
  BAD_REQUEST: { status: 400, message: 'The request could not be parsed.' },
  REQUEST_TIMEOUT: { status: 408, message: 'The request was not received in time.' },
  HEADERS_TOO_LARGE: { status: 431, message: 'The request headers are too large.' },
  PROXY_AUTH_REQUIRED: { status: 407, message: 'Proxy authentication is required.' },
  NO_ROUTE: { status: 403, message: 'No route allows this destination; egress is denied by default.' },
  METHOD_DENIED: { status: 403, message: 'The route does not allow this method or path.' },
  INTERCEPT_DISABLED: {
    status: 403,
    message:
      'This host has a credential route but TLS interception is not configured; run `sanctum-sidecar ca init --out DIR` and set tls.ca_dir, or call the route over http:// through HTTP_PROXY or its base URL.',
  },
  ADDRESS_BLOCKED: { status: 403, message: 'The destination resolves to a private, loopback or otherwise blocked address.' },
  AGENT_ROUTE_DENIED: { status: 403, message: 'This agent is not allowed to use this route.' },
  TRIPWIRE: { status: 403, message: 'The request carries a placeholder or token that must not leave for this host.' },
  VAULT_DENIED: { status: 403, message: 'The vault policy does not allow this credential to be used for this request.' },
  BODY_TOO_LARGE: { status: 413, message: 'The request body exceeds the route limit.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Delegate routes carry text bodies only.' },
  RATE_LIMITED: { status: 429, message: 'Too many requests; retry later.', retryAfter: 1 },
  VAULT_RATE_LIMITED: { status: 429, message: 'The vault is rate limiting this agent; retry later.', retryAfter: 1 },
  UPSTREAM_UNREACHABLE: { status: 502, message: 'The upstream could not be reached.' },
  UPSTREAM_TLS: { status: 502, message: 'The upstream TLS certificate could not be verified; the credential was not sent.' },
  UPSTREAM_ERROR: { status: 502, message: 'The upstream connection failed during the exchange.' },
  // Upstream (corporate) proxy hop (README "Corporate proxy"); the request was not sent upstream.
  UPSTREAM_PROXY_AUTH: { status: 502, message: "The upstream proxy refused the sidecar's proxy credentials (407); the request was not sent." },
  UPSTREAM_PROXY_REFUSED: { status: 502, message: 'The upstream proxy refused to connect to this destination (403); the request was not sent.' },
  UPSTREAM_PROXY_ERROR: { status: 502, message: 'The upstream proxy failed or answered with an error; the request was not sent.' },
  UPSTREAM_PROXY_UNREACHABLE: { status: 502, message: 'The upstream proxy could not be reached; the request was not sent.' },
  RESPONSE_BLOCKED: {
    status: 502,
    message: "The upstream's answer carried the injected credential (or could not be searched for it) and was withheld.",
  },
  CREDENTIAL_NOT_FOUND: { status: 502, message: 'The vault has no credential at the path this route names; the route is misconfigured.' },
  VAULT_AUTH_FAILED: { status: 502, message: 'The sidecar could not authenticate to the vault.' },
  VAULT_ERROR: { status: 502, message: 'The vault returned an error.' },
  VAULT_PROTOCOL_ERROR: { status: 502, message: 'The vault sent a malformed answer.' },
  VAULT_UNAVAILABLE: { status: 503, message: 'The vault is unreachable; the request was not sent.', retryAfter: 2 },
  VAULT_LOCKED: { status: 503, message: 'The vault is locked; the request was not sent.', retryAfter: 5 },
  VAULT_BUSY: { status: 503, message: 'Too many vault calls are already waiting; the request was not sent.', retryAfter: 1 },
  SHUTTING_DOWN: { status: 503, message: 'The sidecar is shutting down.', retryAfter: 1 },
  VAULT_TIMEOUT: { status: 504, message: 'The vault did not answer in time; the request was not sent.' },
  UPSTREAM_TIMEOUT: { status: 504, message: 'The upstream did not answer in time.' },
  ADMIN_DETAIL_OFF: {
    status: 403,
    message: 'The admin listener is not on loopback, so /routes and /explain are off; set admin_detail: true in routes.yaml to serve them.',
  },
  INTERNAL: { status: 500, message: 'Internal sidecar error.' },
} as const satisfies Record<string, CatalogueEntry>;

export type ErrorCode = keyof typeof CATALOGUE;

/** An error from the catalogue. `message` is shown to the agent; `cause` is for the log only. */
export class SidecarError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryAfter: number | undefined;
  /** The vault's own code when the error came from the vault (safe: codes carry no secrets). */
  readonly vaultCode: string | undefined;

  constructor(
    code: ErrorCode,
    opts: { message?: string; cause?: unknown; retryAfter?: number; vaultCode?: string } = {},
  ) {
    const entry: CatalogueEntry = CATALOGUE[code];
    super(opts.message ?? entry.message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'SidecarError';
    this.code = code;
    this.status = entry.status;
    this.retryAfter = opts.retryAfter ?? entry.retryAfter;
    this.vaultCode = opts.vaultCode;
  }
}

/** A routes.yaml problem, located by YAML path and line (STYLE 3). */
export interface ConfigIssue {
  /** Dotted YAML path, e.g. `routes[1].inject.header_type`. */
  readonly path: string;
  /** 1-based line in the source, when known. */
  readonly line: number | undefined;
  readonly message: string;
}

export class ConfigError extends Error {
  readonly issues: readonly ConfigIssue[];
  readonly source: string;

  constructor(source: string, issues: readonly ConfigIssue[]) {
    super(
      `${source}: invalid configuration\n` +
        issues.map((i) => `  ${source}:${i.line ?? '?'} at ${i.path || '(root)'}: ${i.message}`).join('\n'),
    );
    this.name = 'ConfigError';
    this.source = source;
    this.issues = issues;
  }
}

/** Map a vault error to the catalogue (vault-protocol.md, "Errors"). Never copies vault detail. */
export function fromVaultError(err: VaultError): SidecarError {
  const vaultCode = err.code;
  switch (err.code) {
    case 'AUTH_FAILED':
      return new SidecarError('VAULT_AUTH_FAILED', { cause: err, vaultCode });
    case 'ACCESS_DENIED':
    case 'POLICY_DENIED':
    case 'SSRF_BLOCKED':
      return new SidecarError('VAULT_DENIED', { cause: err, vaultCode });
    case 'CREDENTIAL_NOT_FOUND':
    case 'NOT_FOUND':
      return new SidecarError('CREDENTIAL_NOT_FOUND', { cause: err, vaultCode });
    case 'VAULT_LOCKED':
      return new SidecarError('VAULT_LOCKED', { cause: err, vaultCode });
    case 'RATE_LIMITED':
      return new SidecarError('VAULT_RATE_LIMITED', {
        cause: err,
        vaultCode,
        ...(err.retryAfter !== undefined ? { retryAfter: Math.max(1, Math.ceil(err.retryAfter)) } : {}),
      });
    case 'VAULT_UNAVAILABLE':
      return new SidecarError('VAULT_UNAVAILABLE', { cause: err, vaultCode });
    case 'VAULT_TIMEOUT':
      return new SidecarError('VAULT_TIMEOUT', { cause: err, vaultCode });
    case 'PROTOCOL_ERROR':
      return new SidecarError('VAULT_PROTOCOL_ERROR', { cause: err, vaultCode });
    case 'FRAME_TOO_LARGE':
      return new SidecarError('BODY_TOO_LARGE', { cause: err, vaultCode });
    default:
      return new SidecarError('VAULT_ERROR', {
        cause: err,
        vaultCode,
        message: `The vault returned an error (${safeCode(vaultCode)}).`,
      });
  }
}

/** Vault codes are echoed to the agent only when they look like codes, never free text. */
function safeCode(code: string): string {
  return /^[A-Z][A-Z0-9_]{0,63}$/.test(code) ? code : 'UNKNOWN';
}

/** Normalise anything thrown on the request path into a catalogued error. */
export function toSidecarError(err: unknown): SidecarError {
  if (err instanceof SidecarError) return err;
  if (err instanceof VaultError) return fromVaultError(err);
  return new SidecarError('INTERNAL', { cause: err });
}

export interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * The only place an error becomes a response: JSON `{"error":{code,message,route}}`
 * plus `x-sanctum-error: CODE` and Retry-After where the catalogue says so.
 */
export function toReply(err: unknown, route?: string | null): Reply {
  const e = toSidecarError(err);
  const body = JSON.stringify({ error: { code: e.code, message: e.message, route: route ?? null } });
  const headers: Record<string, string> = {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
    'x-sanctum-error': e.code,
    'cache-control': 'no-store',
  };
  if (e.retryAfter !== undefined) headers['retry-after'] = String(e.retryAfter);
  if (e.status === 407) headers['proxy-authenticate'] = 'Basic realm="sanctum-sidecar", charset="UTF-8"';
  return { status: e.status, headers, body };
}
