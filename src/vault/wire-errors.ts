/**
 * Wire error → typed error. The vault's `error` member is an object
 * `{code, message, detail?, suggestion?, docs_url?, context?}` or, from older vaults,
 * a plain string, which becomes code UNKNOWN (vault-protocol.md, "Errors").
 */
import {
  VaultAccessDeniedError,
  VaultAuthFailedError,
  VaultCredentialNotFoundError,
  VaultError,
  type VaultErrorFields,
  VaultLeaseExhaustedError,
  VaultLeaseExpiredError,
  VaultLockedError,
  VaultPathNotFoundError,
  VaultPolicyDeniedError,
  VaultRateLimitedError,
  VaultSessionExpiredError,
  VaultSsrfBlockedError,
  VaultUnknownError,
} from './errors.js';

const BY_CODE: Record<string, (f: VaultErrorFields) => VaultError> = {
  AUTH_FAILED: (f) => new VaultAuthFailedError(f),
  ACCESS_DENIED: (f) => new VaultAccessDeniedError(f),
  POLICY_DENIED: (f) => new VaultPolicyDeniedError(f),
  SSRF_BLOCKED: (f) => new VaultSsrfBlockedError(f),
  CREDENTIAL_NOT_FOUND: (f) => new VaultCredentialNotFoundError(f),
  NOT_FOUND: (f) => new VaultPathNotFoundError(f),
  VAULT_LOCKED: (f) => new VaultLockedError(f),
  SESSION_EXPIRED: (f) => new VaultSessionExpiredError(f),
  LEASE_EXPIRED: (f) => new VaultLeaseExpiredError(f),
  LEASE_EXHAUSTED: (f) => new VaultLeaseExhaustedError(f),
};

/** Map a wire `error` value to its VaultError subclass. Never throws. */
export function vaultErrorFromWire(err: unknown): VaultError {
  if (typeof err === 'string') return new VaultUnknownError('UNKNOWN', { message: err || 'UNKNOWN' });
  if (typeof err !== 'object' || err === null || Array.isArray(err)) {
    return new VaultUnknownError('UNKNOWN', { message: 'vault sent a malformed error' });
  }
  const e = err as Record<string, unknown>;
  const code = typeof e.code === 'string' && e.code !== '' ? e.code : 'UNKNOWN';
  const fields: VaultErrorFields = {
    message: str(e.message) ?? code,
    detail: str(e.detail),
    suggestion: str(e.suggestion),
    docsUrl: str(e.docs_url),
    context: isRecord(e.context) ? e.context : undefined,
  };
  if (code === 'RATE_LIMITED') return new VaultRateLimitedError(fields, retryAfter(fields.context));
  const make = BY_CODE[code];
  return make ? make(fields) : new VaultUnknownError(code, fields);
}

function retryAfter(context: Record<string, unknown> | undefined): number | undefined {
  const v = context?.retry_after;
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
