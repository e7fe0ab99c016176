/**
 * Typed vault errors. Every code on vault-protocol.md has its own class, plus the
 * transport failures the client itself detects (unavailable, timeout, protocol,
 * frame too large). `src/errors.ts` maps them to HTTP answers by `code`.
 *
 * Messages and details come from the vault and may echo request material; they are
 * kept for the log but never copied into a reply to the agent.
 */

export interface VaultErrorFields {
  message?: string;
  detail?: string;
  suggestion?: string;
  docsUrl?: string;
  context?: Record<string, unknown>;
  cause?: unknown;
}

export class VaultError extends Error {
  readonly code: string;
  readonly detail: string | undefined;
  readonly suggestion: string | undefined;
  readonly docsUrl: string | undefined;
  readonly context: Record<string, unknown> | undefined;
  /** Seconds to wait before retrying, when the vault said (RATE_LIMITED). */
  readonly retryAfter: number | undefined;

  constructor(code: string, fields: VaultErrorFields = {}, retryAfter?: number) {
    super(fields.message ?? code, fields.cause === undefined ? undefined : { cause: fields.cause });
    this.name = new.target.name;
    this.code = code;
    this.detail = fields.detail;
    this.suggestion = fields.suggestion;
    this.docsUrl = fields.docsUrl;
    this.context = fields.context;
    this.retryAfter = retryAfter;
  }
}

export class VaultAuthFailedError extends VaultError {
  constructor(f: VaultErrorFields = {}) {
    super('AUTH_FAILED', f);
  }
}
/** Base of the policy refusals: ACCESS_DENIED, POLICY_DENIED, SSRF_BLOCKED. */
export class VaultDeniedError extends VaultError {}
export class VaultAccessDeniedError extends VaultDeniedError {
  constructor(f: VaultErrorFields = {}) {
    super('ACCESS_DENIED', f);
  }
}
export class VaultPolicyDeniedError extends VaultDeniedError {
  constructor(f: VaultErrorFields = {}) {
    super('POLICY_DENIED', f);
  }
}
export class VaultSsrfBlockedError extends VaultDeniedError {
  constructor(f: VaultErrorFields = {}) {
    super('SSRF_BLOCKED', f);
  }
}
/** Base of CREDENTIAL_NOT_FOUND and NOT_FOUND. */
export class VaultNotFoundError extends VaultError {}
export class VaultCredentialNotFoundError extends VaultNotFoundError {
  constructor(f: VaultErrorFields = {}) {
    super('CREDENTIAL_NOT_FOUND', f);
  }
}
export class VaultPathNotFoundError extends VaultNotFoundError {
  constructor(f: VaultErrorFields = {}) {
    super('NOT_FOUND', f);
  }
}
export class VaultLockedError extends VaultError {
  constructor(f: VaultErrorFields = {}) {
    super('VAULT_LOCKED', f);
  }
}
export class VaultRateLimitedError extends VaultError {
  constructor(f: VaultErrorFields = {}, retryAfter?: number) {
    super('RATE_LIMITED', f, retryAfter);
  }
}
export class VaultSessionExpiredError extends VaultError {
  constructor(f: VaultErrorFields = {}) {
    super('SESSION_EXPIRED', f);
  }
}
/** Base of LEASE_EXPIRED and LEASE_EXHAUSTED. */
export class VaultLeaseError extends VaultError {}
export class VaultLeaseExpiredError extends VaultLeaseError {
  constructor(f: VaultErrorFields = {}) {
    super('LEASE_EXPIRED', f);
  }
}
export class VaultLeaseExhaustedError extends VaultLeaseError {
  constructor(f: VaultErrorFields = {}) {
    super('LEASE_EXHAUSTED', f);
  }
}
/** Any other vault code, or a legacy plain-string error (code `UNKNOWN`). */
export class VaultUnknownError extends VaultError {}

/** Transport: connection refused, dropped, or not yet established. */
export class VaultUnavailableError extends VaultError {
  constructor(f: VaultErrorFields = {}) {
    super('VAULT_UNAVAILABLE', f);
  }
}
/** Transport: a call got no answer within its timeout. */
export class VaultTimeoutError extends VaultError {
  constructor(f: VaultErrorFields = {}) {
    super('VAULT_TIMEOUT', f);
  }
}
/** Transport: the peer sent something that is not the protocol (bad JSON, bad shape, huge frame). */
export class VaultProtocolError extends VaultError {
  constructor(f: VaultErrorFields = {}) {
    super('PROTOCOL_ERROR', f);
  }
}
/** A call whose frame would exceed the 4 MiB send limit; nothing was sent. */
export class VaultFrameTooLargeError extends VaultError {
  constructor(f: VaultErrorFields = {}) {
    super('FRAME_TOO_LARGE', f);
  }
}
/** The key file could not be used (missing, wrong mode, wrong length, bad passphrase). */
export class KeyFileError extends VaultError {
  constructor(f: VaultErrorFields = {}) {
    super('KEY_FILE', f);
  }
}
