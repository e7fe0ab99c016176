/**
 * The webhook's HTTPS server (node:https): POST /mutate and /mutate/strict take an
 * AdmissionReview v1 and answer with the decision; GET /healthz and /readyz serve the
 * kubelet. Bodies are capped (413), non-JSON is refused (415), a malformed review is a 400
 * that says what is wrong. The serving certificate is re-read when its files change (cert-
 * manager renews it in place) and on `reloadCertificate()`. `close()` turns /readyz to 503,
 * optionally keeps serving for a delay, then drains.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile } from 'node:fs/promises';
import type { Logger } from '../log.js';
import { decide, parseReview } from './review.js';
import type { InjectorSettings } from './settings.js';

export interface InjectorServerOptions {
  readonly host: string;
  readonly port: number;
  readonly certFile: string;
  readonly keyFile: string;
  readonly settings: InjectorSettings;
  /** Namespaces whose pods are refused rather than injected with defaults when an annotation is unusable. */
  readonly strictNamespaces: ReadonlySet<string>;
  readonly maxBodyBytes: number;
  readonly log: Logger;
  /** How often the certificate files are checked for a renewal. */
  readonly certCheckMs?: number;
}

export interface InjectorServer {
  readonly address: { host: string; port: number };
  readonly server: Server;
  /** Re-reads the certificate and key; resolves true when they changed and were applied. */
  reloadCertificate(): Promise<boolean>;
  /** Readiness off, keep serving for `delayMs`, then stop accepting and drain up to `deadlineMs`. */
  close(opts?: { delayMs?: number; deadlineMs?: number }): Promise<void>;
}

function send(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json',
    'content-length': String(Buffer.byteLength(text)),
    'cache-control': 'no-store',
    ...extra,
  });
  res.end(text);
}

function fail(res: ServerResponse, status: number, code: string, message: string, extra: Record<string, string> = {}): void {
  send(res, status, { error: { code, message } }, extra);
}

/** Reads the body up to `max` bytes; resolves null (after answering 413) when it is larger. */
function readBody(req: IncomingMessage, res: ServerResponse, max: number): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const tooLarge = (): void => {
      fail(res, 413, 'BODY_TOO_LARGE', `The AdmissionReview exceeds ${max} bytes.`, { connection: 'close' });
      // Discard what is still coming so the client reads the answer, within a bound.
      let discarded = 0;
      req.removeAllListeners('data');
      req.on('data', (c: Buffer) => {
        discarded += c.length;
        if (discarded > max) req.destroy();
      });
      resolve(null);
    };
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (declared > max) {
      tooLarge();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) tooLarge();
      else chunks.push(c);
    });
    req.on('end', () => {
      if (size <= max) resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', reject);
  });
}

export async function startInjector(opts: InjectorServerOptions): Promise<InjectorServer> {
  const { log } = opts;
  let cert = await readFile(opts.certFile, 'utf8');
  let key = await readFile(opts.keyFile, 'utf8');
  let stopping = false;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // The API server appends ?timeout=10s to the webhook path.
    const path = (req.url ?? '').split('?')[0];
    if (path === '/healthz' || path === '/readyz') {
      if (req.method !== 'GET' && req.method !== 'HEAD') return fail(res, 405, 'METHOD_NOT_ALLOWED', 'Use GET.', { allow: 'GET' });
      if (path === '/readyz' && stopping) return send(res, 503, 'shutting down\n');
      return send(res, 200, 'ok\n');
    }
    if (path !== '/mutate' && path !== '/mutate/strict') return fail(res, 404, 'NOT_FOUND', 'Endpoints: POST /mutate, POST /mutate/strict, GET /healthz, GET /readyz.');
    if (req.method !== 'POST') return fail(res, 405, 'METHOD_NOT_ALLOWED', 'POST an AdmissionReview.', { allow: 'POST' });
    if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) {
      return fail(res, 415, 'UNSUPPORTED_MEDIA_TYPE', 'The AdmissionReview must be sent as application/json.');
    }
    const body = await readBody(req, res, opts.maxBodyBytes);
    if (body === null) return;
    const parsed = parseReview(body);
    if (!parsed.ok) {
      log.warn({ reason: parsed.message }, 'malformed AdmissionReview');
      return fail(res, 400, 'BAD_ADMISSION_REVIEW', `Not an AdmissionReview v1 request: ${parsed.message}.`);
    }
    const r = parsed.request;
    const strict = path === '/mutate/strict' || opts.strictNamespaces.has(r.namespace);
    const d = decide(r, opts.settings, strict);
    const meta = (r.object?.metadata ?? {}) as { name?: string; generateName?: string };
    log[d.outcome === 'refused' || d.warnings.length > 0 ? 'warn' : 'info'](
      {
        uid: r.uid,
        namespace: r.namespace,
        pod: meta.name ?? (meta.generateName ? `${meta.generateName}*` : null),
        operation: r.operation,
        outcome: d.outcome,
        reason: d.reason,
        strict,
        warnings: d.warnings,
      },
      'admission',
    );
    send(res, 200, d.review);
  };

  const server = createServer({ cert, key, minVersion: 'TLSv1.2' }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      log.error({ err: err instanceof Error ? err.message : String(err) }, 'admission handler failed');
      if (!res.headersSent) fail(res, 500, 'INTERNAL', 'Internal injector error.');
      else res.destroy();
    });
  });
  // The API server gives up after the webhook's timeoutSeconds (at most 30 s).
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.on('tlsClientError', (err) => log.debug({ err: err.message }, 'TLS handshake failed'));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;

  const reloadCertificate = async (): Promise<boolean> => {
    try {
      const [c, k] = await Promise.all([readFile(opts.certFile, 'utf8'), readFile(opts.keyFile, 'utf8')]);
      if (c === cert && k === key) return false;
      server.setSecureContext({ cert: c, key: k, minVersion: 'TLSv1.2' });
      cert = c;
      key = k;
      log.info('serving certificate reloaded');
      return true;
    } catch (err) {
      // A renewal caught half-written (or a key that does not match yet): keep the current one.
      log.warn({ err: err instanceof Error ? err.message : String(err) }, 'serving certificate not reloaded; keeping the current one');
      return false;
    }
  };
  const timer = setInterval(() => void reloadCertificate(), opts.certCheckMs ?? 60_000);
  timer.unref();

  let closing: Promise<void> | null = null;
  return {
    address: { host: addr.address, port: addr.port },
    server,
    reloadCertificate,
    close({ delayMs = 0, deadlineMs = 10_000 } = {}): Promise<void> {
      closing ??= (async () => {
        stopping = true;
        clearInterval(timer);
        if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        // Keep-alive connections from the API server go idle after each answer: close them as they do.
        server.closeIdleConnections();
        const sweeper = setInterval(() => server.closeIdleConnections(), 100);
        const deadline = setTimeout(() => server.closeAllConnections(), deadlineMs);
        await closed;
        clearInterval(sweeper);
        clearTimeout(deadline);
      })();
      return closing;
    },
  };
}
