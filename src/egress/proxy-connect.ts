/**
 * The CONNECT handshake with an upstream (corporate) proxy: dial the proxy, ask it for
 * a tunnel to `host:port` (RFC 9110 §9.3.6), optionally with Proxy-Authorization, and
 * hand back the raw socket once it answers 2xx. What flows next is the caller's: TLS to
 * the real upstream, end to end, or an agent's byte tunnel. The proxy sees only the
 * CONNECT authority.
 *
 * Every way the proxy hop can fail maps to one catalogued error naming that hop, so the
 * agent (and the log) can tell "the proxy said no" from "the upstream said no":
 *   dial fails / times out           UPSTREAM_PROXY_UNREACHABLE
 *   407                              UPSTREAM_PROXY_AUTH
 *   403                              UPSTREAM_PROXY_REFUSED
 *   any other status, garbage, slow  UPSTREAM_PROXY_ERROR (the status is in the message)
 * The proxy credential never appears in an error, a message or the cause.
 */
import { connect, type Socket } from 'node:net';
import type { Secret } from '../credentials/secret.js';
import { SidecarError } from '../errors.js';

/** How one CONNECT ended: a bounded label for the metric. */
export type ProxyConnectResult = 'ok' | 'auth_required' | 'refused' | 'error' | 'unreachable';

/** The cause attached to proxy-hop errors: which proxy, what it answered (log only). */
export class ProxyHopFailure extends Error {
  override readonly name = 'ProxyHopFailure';
  constructor(
    readonly result: Exclude<ProxyConnectResult, 'ok'>,
    readonly proxy: string,
    readonly status: number | null,
    detail: string,
  ) {
    super(`${proxy}: ${detail}`);
  }
}

export interface ProxyConnectRequest {
  readonly proxyHost: string;
  readonly proxyPort: number;
  /** `host:port` (IPv6 bracketed) of the destination. */
  readonly authority: string;
  /** The whole Proxy-Authorization value (`Basic ...`), or undefined. */
  readonly authorization: Secret | undefined;
  /** Dial plus the proxy's answer. */
  readonly timeoutMs: number;
}

/** The answer head may not exceed this (a proxy error page comes after it and is never read). */
const MAX_HEAD = 16 * 1024;

/** The catalogued error for a failed proxy hop. */
export function proxyHopError(f: ProxyHopFailure): SidecarError {
  switch (f.result) {
    case 'unreachable':
      return new SidecarError('UPSTREAM_PROXY_UNREACHABLE', { cause: f });
    case 'auth_required':
      return new SidecarError('UPSTREAM_PROXY_AUTH', { cause: f });
    case 'refused':
      return new SidecarError('UPSTREAM_PROXY_REFUSED', { cause: f });
    case 'error':
      return new SidecarError('UPSTREAM_PROXY_ERROR', {
        cause: f,
        ...(f.status === null ? {} : { message: `The upstream proxy answered ${f.status} to the tunnel request; the request was not sent.` }),
      });
  }
}

/** Open a tunnel through the proxy. Rejects with a ProxyHopFailure (map it with `proxyHopError`). */
export function proxyConnect(req: ProxyConnectRequest): Promise<Socket> {
  const proxy = `${req.proxyHost.includes(':') ? `[${req.proxyHost}]` : req.proxyHost}:${req.proxyPort}`;
  return new Promise((resolve, reject) => {
    let connected = false;
    let settled = false;
    let head = Buffer.alloc(0);
    const socket = connect({ host: req.proxyHost, port: req.proxyPort, noDelay: true, allowHalfOpen: true });
    const fail = (result: Exclude<ProxyConnectResult, 'ok'>, status: number | null, detail: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      reject(new ProxyHopFailure(result, proxy, status, detail));
    };
    const timer = setTimeout(() => {
      if (connected) fail('error', null, 'no answer to CONNECT in time');
      else fail('unreachable', null, 'connect timed out');
    }, req.timeoutMs);
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (connected) fail('error', null, `connection failed during CONNECT (${err.code ?? err.message})`);
      else fail('unreachable', null, `connect failed (${err.code ?? err.message})`);
    });
    socket.once('close', () => fail('error', null, 'closed the connection before answering CONNECT'));
    socket.once('connect', () => {
      connected = true;
      const auth = req.authorization?.reveal();
      // A value with CR/LF would split the request; the vault or environment holds something else than a credential.
      if (auth !== undefined && /[\r\n]/.test(auth)) {
        fail('error', null, 'the proxy credential contains a line break; not sent');
        return;
      }
      socket.write(
        `CONNECT ${req.authority} HTTP/1.1\r\nHost: ${req.authority}\r\n` + (auth === undefined ? '' : `Proxy-Authorization: ${auth}\r\n`) + '\r\n',
      );
    });
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > MAX_HEAD) fail('error', null, 'answer head too large');
        return;
      }
      socket.removeListener('data', onData);
      socket.pause();
      const m = /^HTTP\/1\.[01] ([1-9][0-9]{2})(?: [^\r\n]*)?\r\n/.exec(head.subarray(0, end + 2).toString('latin1'));
      if (m === null) {
        fail('error', null, 'answer is not HTTP');
        return;
      }
      const status = Number(m[1]);
      if (status === 407) fail('auth_required', status, 'proxy authentication required');
      else if (status === 403) fail('refused', status, 'refused the destination');
      else if (status < 200 || status > 299) fail('error', status, `answered ${status}`);
      else {
        settled = true;
        clearTimeout(timer);
        socket.removeAllListeners('close');
        socket.removeAllListeners('error');
        // The caller's TLS or splice attaches its own handlers; until then an error only closes.
        socket.on('error', () => undefined);
        // Bytes after the head already belong to the tunnel (RFC 9110 §9.3.6: a 2xx has no content).
        const rest = head.subarray(end + 4);
        if (rest.length > 0) socket.unshift(rest);
        resolve(socket);
      }
    };
    socket.on('data', onData);
  });
}
