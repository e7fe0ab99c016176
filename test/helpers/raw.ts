/**
 * Raw-socket HTTP for tests that must send bytes no well-behaved client would:
 * duplicate headers, CL+TE, odd request-targets. Returns the raw answer and a parsed
 * status line, headers and body (enough for assertions, not a general parser).
 */
import { connect } from 'node:net';

export interface RawResponse {
  readonly raw: string;
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

export function parseRaw(raw: string): RawResponse {
  const end = raw.indexOf('\r\n\r\n');
  const head = end === -1 ? raw : raw.slice(0, end);
  const body = end === -1 ? '' : raw.slice(end + 4);
  const lines = head.split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  return { raw, status, headers, body };
}

/** Send `request` bytes, read until the server closes or `timeoutMs` of quiet passes. */
export function rawRequest(port: number, request: string | Buffer, timeoutMs = 1500): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let timer: NodeJS.Timeout | null = null;
    const finish = (): void => {
      if (timer) clearTimeout(timer);
      sock.destroy();
      resolve(parseRaw(Buffer.concat(chunks).toString('latin1')));
    };
    const arm = (): void => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(finish, timeoutMs);
    };
    sock.on('connect', () => {
      sock.write(request);
      arm();
    });
    sock.on('data', (c: Buffer) => {
      chunks.push(c);
      // One complete response with a known length is enough; stop waiting.
      const r = parseRaw(Buffer.concat(chunks).toString('latin1'));
      const cl = r.headers['content-length'];
      if (r.status && cl !== undefined && Buffer.byteLength(r.body, 'latin1') >= Number(cl)) finish();
      else arm();
    });
    sock.on('end', finish);
    sock.on('error', (e) => (chunks.length ? finish() : reject(e)));
  });
}
