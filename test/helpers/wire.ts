/**
 * Raw-socket conversations for the hostile-input suite: send bytes in steps (with
 * pauses between them, for trickled headers and bodies that go bad later), read every
 * response the server sends on that connection, and note whether the server closed
 * it. The response parser understands Content-Length, chunked and close-delimited
 * bodies and 1xx interim answers: enough to split pipelined answers apart.
 */
import { connect, type Socket } from 'node:net';

export interface WireResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
  /** False when the connection ended before the body did. */
  readonly complete: boolean;
}

export interface Conversation {
  /** Final (non-1xx) responses, in order. */
  readonly responses: WireResponse[];
  /** 1xx interim responses seen. */
  readonly interim: number[];
  /** Everything the server sent, latin1. */
  readonly raw: string;
  /** The server closed (or reset) the connection before we stopped listening. */
  readonly closedByServer: boolean;
  /** Milliseconds from connect to the server closing, or null. */
  readonly closedAfterMs: number | null;
}

export type Step = string | Buffer | { readonly pause: number } | { readonly until: (c: { responses: number; raw: string }) => boolean; readonly timeoutMs?: number };

export interface ConverseOptions {
  /** Stop once this many final responses have arrived complete. Default 1. */
  readonly responses?: number;
  /** Give up waiting after this much quiet following the last step. Default 1500 ms. */
  readonly quietMs?: number;
  /** Hard cap on the whole conversation. Default 10 s. */
  readonly maxMs?: number;
  /** Keep reading after `responses` complete answers until the server closes or quietMs passes. */
  readonly drain?: boolean;
  /** Final answers (by index) that carry no body: the 2xx to a CONNECT, the answer to a HEAD. */
  readonly noBody?: readonly number[];
}

/** Parse as many complete responses as `raw` holds. */
export function parseResponses(raw: string, noBody: readonly number[] = []): { responses: WireResponse[]; interim: number[]; partial: WireResponse | null } {
  const responses: WireResponse[] = [];
  const interim: number[] = [];
  let at = 0;
  for (;;) {
    const headEnd = raw.indexOf('\r\n\r\n', at);
    if (headEnd < 0) return { responses, interim, partial: null };
    const lines = raw.slice(at, headEnd).split('\r\n');
    const status = Number(/^HTTP\/\d\.\d (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0);
    const headers: Record<string, string> = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      if (i > 0) {
        const k = l.slice(0, i).trim().toLowerCase();
        headers[k] = headers[k] === undefined ? l.slice(i + 1).trim() : `${headers[k]}, ${l.slice(i + 1).trim()}`;
      }
    }
    let pos = headEnd + 4;
    if (status >= 100 && status < 200) {
      interim.push(status);
      at = pos;
      continue;
    }
    if (noBody.includes(responses.length)) {
      responses.push({ status, headers, body: '', complete: true });
      at = pos;
      continue;
    }
    const cl = headers['content-length'];
    if ((headers['transfer-encoding'] ?? '').toLowerCase().includes('chunked')) {
      let body = '';
      for (;;) {
        const lineEnd = raw.indexOf('\r\n', pos);
        if (lineEnd < 0) return { responses, interim, partial: { status, headers, body, complete: false } };
        const size = parseInt(raw.slice(pos, lineEnd).split(';')[0]!, 16);
        if (!Number.isFinite(size)) return { responses, interim, partial: { status, headers, body, complete: false } };
        if (size === 0) {
          const trailerEnd = raw.indexOf('\r\n\r\n', lineEnd);
          if (trailerEnd < 0 && raw.slice(lineEnd, lineEnd + 4) !== '\r\n\r\n') {
            return { responses, interim, partial: { status, headers, body, complete: false } };
          }
          pos = (trailerEnd < 0 ? lineEnd : trailerEnd) + 4;
          break;
        }
        if (raw.length < lineEnd + 2 + size + 2) {
          body += raw.slice(lineEnd + 2, lineEnd + 2 + size);
          return { responses, interim, partial: { status, headers, body, complete: false } };
        }
        body += raw.slice(lineEnd + 2, lineEnd + 2 + size);
        pos = lineEnd + 2 + size + 2;
      }
      responses.push({ status, headers, body, complete: true });
      at = pos;
      continue;
    }
    if (cl !== undefined) {
      const n = Number(cl);
      if (raw.length - pos < n) return { responses, interim, partial: { status, headers, body: raw.slice(pos), complete: false } };
      responses.push({ status, headers, body: raw.slice(pos, pos + n), complete: true });
      at = pos + n;
      continue;
    }
    // Close-delimited: everything to the end belongs to this response.
    return { responses, interim, partial: { status, headers, body: raw.slice(pos), complete: false } };
  }
}

/** Run one conversation on a fresh connection to 127.0.0.1:`port`. */
export function converse(port: number, steps: readonly Step[], opts: ConverseOptions = {}): Promise<Conversation> {
  const want = opts.responses ?? 1;
  const quietMs = opts.quietMs ?? 1500;
  const maxMs = opts.maxMs ?? 10_000;
  return new Promise((resolve) => {
    const started = Date.now();
    const sock: Socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let closedAfterMs: number | null = null;
    let stepsDone = false;
    let quiet: NodeJS.Timeout | null = null;
    let finished = false;
    const onProgress: Array<() => void> = [];
    const text = (): string => Buffer.concat(chunks).toString('latin1');
    const finish = (): void => {
      if (finished) return;
      finished = true;
      if (quiet) clearTimeout(quiet);
      clearTimeout(cap);
      sock.destroy();
      const raw = text();
      const parsed = parseResponses(raw, opts.noBody);
      const responses = [...parsed.responses];
      if (parsed.partial !== null && closedAfterMs !== null && parsed.partial.headers['content-length'] === undefined && !(parsed.partial.headers['transfer-encoding'] ?? '').includes('chunked')) {
        // A close-delimited body is complete when the server closed.
        responses.push({ ...parsed.partial, complete: true });
      } else if (parsed.partial !== null) responses.push(parsed.partial);
      resolve({ responses, interim: parsed.interim, raw, closedByServer: closedAfterMs !== null, closedAfterMs });
    };
    const cap = setTimeout(finish, maxMs);
    const armQuiet = (): void => {
      if (!stepsDone) return;
      if (quiet) clearTimeout(quiet);
      quiet = setTimeout(finish, quietMs);
    };
    const enough = (): boolean => !opts.drain && parseResponses(text(), opts.noBody).responses.length >= want;
    sock.on('data', (c: Buffer) => {
      chunks.push(c);
      for (const f of onProgress.splice(0)) f();
      if (stepsDone && enough()) finish();
      else armQuiet();
    });
    const ended = (): void => {
      if (closedAfterMs === null) closedAfterMs = Date.now() - started;
      for (const f of onProgress.splice(0)) f();
      finish();
    };
    sock.on('end', ended);
    sock.on('close', ended);
    sock.on('error', () => undefined);
    sock.on('connect', () => {
      void (async () => {
        for (const step of steps) {
          if (finished || sock.destroyed) return;
          if (typeof step === 'string' || Buffer.isBuffer(step)) {
            sock.write(step);
          } else if ('pause' in step) {
            await new Promise((r) => setTimeout(r, step.pause));
          } else {
            const deadline = Date.now() + (step.timeoutMs ?? 5000);
            while (!finished && !step.until({ responses: parseResponses(text(), opts.noBody).responses.length, raw: text() }) && Date.now() < deadline) {
              await new Promise<void>((r) => {
                const t = setTimeout(r, 50);
                onProgress.push(() => {
                  clearTimeout(t);
                  r();
                });
              });
            }
          }
        }
        stepsDone = true;
        if (enough()) finish();
        else armQuiet();
      })();
    });
  });
}
