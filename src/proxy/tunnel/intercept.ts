/**
 * TLS interception for credential routes: terminate the agent's TLS inside a CONNECT
 * tunnel with a leaf certificate for the CONNECT host, signed by the sidecar's CA, so
 * the request can go through the one pipeline (which re-encrypts to the route's own
 * upstream with full verification).
 *
 * Security decisions: the leaf names exactly the CONNECT host; a ClientHello whose SNI
 * names any other host is refused (an agent must not get a certificate, or a route,
 * for a name it did not CONNECT to); ALPN offers only http/1.1, the protocol the
 * pipeline speaks; the handshake has a deadline.
 */
import { TLSSocket } from 'node:tls';
import type { Socket } from 'node:net';
import type { CaMaterial } from '../../tls/ca.js';
import { LeafCache } from '../../tls/leaf-cache.js';

/** Why a handshake failed, as a bounded log label. */
export type InterceptFailure = 'sni_mismatch' | 'handshake_timeout' | 'handshake_failed';

export class InterceptError extends Error {
  override readonly name = 'InterceptError';
  constructor(
    readonly reason: InterceptFailure,
    options?: { cause?: unknown },
  ) {
    super(reason, options);
  }
}

export interface InterceptorOptions {
  readonly leafDays?: number;
}

/** SNI as a canonical host: lowercase, one trailing dot dropped. */
function canonicalSni(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

export class Interceptor {
  readonly leaves: LeafCache;
  /** When the CA certificate expires (ms since the epoch), for the expiry metric. */
  readonly caNotAfterMs: number;

  constructor(ca: CaMaterial, opts: InterceptorOptions = {}) {
    this.caNotAfterMs = Date.parse(ca.cert.validTo);
    this.leaves = new LeafCache(ca.issuer, opts.leafDays === undefined ? {} : { days: opts.leafDays });
  }

  /**
   * Terminate TLS on `socket` as `host`. Resolves with the decrypted socket once the
   * handshake completes within `handshakeTimeoutMs` (`timeouts.tls_handshake`); rejects
   * with an InterceptError (the socket is destroyed).
   */
  terminate(socket: Socket, host: string, handshakeTimeoutMs: number): Promise<TLSSocket> {
    const context = this.leaves.contextFor(host);
    let sniMismatch = false;
    const tls = new TLSSocket(socket, {
      isServer: true,
      secureContext: context,
      ALPNProtocols: ['http/1.1'],
      requestCert: false,
      SNICallback: (servername, cb) => {
        if (canonicalSni(servername) === host) {
          cb(null, context);
          return;
        }
        sniMismatch = true;
        cb(new Error('SNI does not name the CONNECT host'), undefined);
      },
    });
    return new Promise<TLSSocket>((resolve, reject) => {
      const fail = (reason: InterceptFailure, cause?: unknown): void => {
        clearTimeout(timer);
        tls.destroy();
        socket.destroy();
        reject(new InterceptError(reason, { cause }));
      };
      const timer = setTimeout(() => fail('handshake_timeout'), handshakeTimeoutMs);
      tls.once('secure', () => {
        clearTimeout(timer);
        tls.removeListener('error', onError);
        tls.removeListener('close', onClose);
        resolve(tls);
      });
      const onError = (err: Error): void => fail(sniMismatch ? 'sni_mismatch' : 'handshake_failed', err);
      const onClose = (): void => fail(sniMismatch ? 'sni_mismatch' : 'handshake_failed');
      tls.once('error', onError);
      tls.once('close', onClose);
    });
  }
}
