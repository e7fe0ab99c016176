/**
 * Large streamed bodies in both directions: a download consumed as it arrives and an
 * upload written with back-pressure from one reused 64 KiB buffer, so that the client
 * never holds the body. Throughput is bytes over wall time; the proxy's memory is
 * sampled by the caller while these run.
 */
import http from 'node:http';

export interface StreamTarget {
  readonly port: number;
  /** Base path (origin- or absolute-form) to which `/download` or `/upload` is appended. */
  readonly base: string;
  readonly host?: string | undefined;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface TransferResult {
  readonly bytes: number;
  readonly seconds: number;
  readonly mibPerS: number;
}

const CHUNK = Buffer.alloc(64 * 1024, 0x62);

function headersFor(t: StreamTarget, extra: Record<string, string>): Record<string, string> {
  const h: Record<string, string> = { ...(t.headers ?? {}), ...extra };
  if (t.host) h.host = t.host;
  return h;
}

function result(bytes: number, t0: bigint): TransferResult {
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { bytes, seconds, mibPerS: bytes / 1024 / 1024 / seconds };
}

/** GETs `bytes` bytes and discards them; rejects on a short body, a bad status or `timeoutMs`. */
export function download(t: StreamTarget, bytes: number, timeoutMs: number): Promise<TransferResult> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = http.request(
      {
        host: '127.0.0.1',
        port: t.port,
        path: `${t.base}/download?bytes=${bytes}`,
        headers: headersFor(t, {}),
        agent: false,
      },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          reject(new Error(`download: status ${res.statusCode} (${String(res.headers['x-sanctum-error'] ?? '')})`));
          return;
        }
        let got = 0;
        res.on('data', (c: Buffer) => {
          got += c.length;
        });
        res.on('end', () => {
          if (got !== bytes) reject(new Error(`download: got ${got} of ${bytes} bytes`));
          else resolve(result(got, t0));
        });
        res.on('error', reject);
      },
    );
    const timer = setTimeout(() => req.destroy(new Error(`download exceeded ${timeoutMs} ms`)), timeoutMs);
    req.on('close', () => clearTimeout(timer));
    req.on('error', reject);
    req.end();
  });
}

/** POSTs `bytes` bytes (Content-Length) and checks the upstream's count of them. */
export function upload(t: StreamTarget, bytes: number, timeoutMs: number): Promise<TransferResult> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = http.request(
      {
        host: '127.0.0.1',
        port: t.port,
        method: 'POST',
        path: `${t.base}/upload`,
        headers: headersFor(t, { 'content-type': 'application/octet-stream', 'content-length': String(bytes) }),
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => {
          if (res.statusCode !== 200) {
            reject(new Error(`upload: status ${res.statusCode} ${body.slice(0, 200)}`));
            return;
          }
          const counted = Number(/"bytes":(\d+)/.exec(body)?.[1] ?? -1);
          if (counted !== bytes) reject(new Error(`upload: upstream counted ${counted} of ${bytes} bytes`));
          else resolve(result(bytes, t0));
        });
        res.on('error', reject);
      },
    );
    const timer = setTimeout(() => req.destroy(new Error(`upload exceeded ${timeoutMs} ms`)), timeoutMs);
    req.on('close', () => clearTimeout(timer));
    req.on('error', reject);
    let left = bytes;
    const pump = (): void => {
      while (left > 0) {
        const n = Math.min(left, CHUNK.length);
        left -= n;
        const ok = req.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n));
        if (!ok) {
          req.once('drain', pump);
          return;
        }
      }
      req.end();
    };
    pump();
  });
}
