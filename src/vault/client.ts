/**
 * The SanctumAI vault client (dialect A): the typed methods other code calls, on top
 * of the connection engine in `core.ts`. Results are parsed into domain values by
 * `messages.ts`; secrets come back wrapped in Secret. Leases taken by `retrieve` are
 * remembered and released on close().
 */
import type { Secret } from '../credentials/secret.js';
import { VaultCore } from './core.js';
import * as m from './messages.js';

export { VaultCore } from './core.js';
export type { VaultClientEvent, VaultClientOptions, VaultState, VaultStatus } from './core.js';
export type { VaultEndpoint } from './connection.js';
export type { CredentialInfo, HeaderType, HttpRequestResult, RetrieveResult } from './messages.js';

export interface HttpRequestSpec {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
  headerType: m.HeaderType;
  headerName?: string;
}

/** Longest close() waits for lease releases before giving up on them. */
const LEASE_RELEASE_BUDGET_MS = 1000;

export class VaultClient extends VaultCore {
  readonly #leases = new Set<string>();
  #closing: Promise<void> | null = null;

  /** `use`/`http_header`: the header to inject, name lowercased, value a Secret. */
  async useHttpHeader(path: string, spec: { headerType: m.HeaderType; headerName?: string }): Promise<{ headerName: string; headerValue: Secret }> {
    const params: Record<string, unknown> = { header_type: spec.headerType };
    if (spec.headerName !== undefined) params.header_name = spec.headerName;
    return m.parseHttpHeader(await this.call('use', { path, operation: 'http_header', params }));
  }

  /** `use`/`http_request`: the vault makes the request with the credential; we see only the answer. */
  async useHttpRequest(path: string, req: HttpRequestSpec): Promise<m.HttpRequestResult> {
    const params: Record<string, unknown> = {
      method: req.method,
      url: req.url,
      headers: req.headers,
      body: req.body,
      header_type: req.headerType,
    };
    if (req.headerName !== undefined) params.header_name = req.headerName;
    return m.parseHttpRequest(await this.call('use', { path, operation: 'http_request', params }));
  }

  /** `use`/`sign`: base64 signature of `data` under the credential. */
  async sign(path: string, data: string, algorithm = 'hmac-sha256'): Promise<string> {
    return m.parseSignature(await this.call('use', { path, operation: 'sign', params: { algorithm, data } }));
  }

  async encrypt(path: string, data: string): Promise<string> {
    return m.parseCiphertext(await this.call('use', { path, operation: 'encrypt', params: { data } }));
  }

  async decrypt(path: string, data: string): Promise<string> {
    return m.parsePlaintext(await this.call('use', { path, operation: 'decrypt', params: { data } }));
  }

  /** `retrieve`: the secret itself under a lease, which close() releases. */
  async retrieve(path: string, ttl?: number): Promise<m.RetrieveResult> {
    const result = m.parseRetrieve(await this.call('retrieve', ttl === undefined ? { path } : { path, ttl }));
    this.#leases.add(result.leaseId);
    return result;
  }

  async list(): Promise<m.CredentialInfo[]> {
    return m.parseList(await this.call('list', {}));
  }

  async releaseLease(leaseId: string): Promise<void> {
    await this.call('release_lease', { lease_id: leaseId });
    this.#leases.delete(leaseId);
  }

  /**
   * Release outstanding leases (best effort, bounded to ~1 s and only when
   * connected), then close the connection: no socket or timer survives.
   */
  override close(): Promise<void> {
    this.#closing ??= this.#releaseLeases().then(() => super.close());
    return this.#closing;
  }

  async #releaseLeases(): Promise<void> {
    const leases = [...this.#leases];
    this.#leases.clear();
    if (leases.length === 0 || this.state.status !== 'ready') return;
    let timer: NodeJS.Timeout | undefined;
    const budget = new Promise<void>((resolve) => (timer = setTimeout(resolve, LEASE_RELEASE_BUDGET_MS)));
    const releases = Promise.allSettled(leases.map((id) => this.call('release_lease', { lease_id: id })));
    await Promise.race([releases, budget]);
    clearTimeout(timer);
  }
}
