/**
 * Small loopback HTTP client helpers for probes: one request, bounded in time, body
 * collected. Requests always go to 127.0.0.1; `path` may be absolute-form so that the
 * listener acts as a forward proxy.
 */
import http from 'node:http';

export interface Reply {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

export interface RequestSpec {
  readonly port: number;
  readonly path: string;
  readonly host?: string | undefined;
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Buffer;
  readonly timeoutMs?: number;
}

export function request(spec: RequestSpec): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...(spec.headers ?? {}) };
    if (spec.host) headers.host = spec.host;
    const req = http.request(
      {
        host: '127.0.0.1',
        port: spec.port,
        path: spec.path,
        method: spec.method ?? 'GET',
        headers,
        agent: false,
        timeout: spec.timeoutMs ?? 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout after ${spec.timeoutMs ?? 10_000} ms`)));
    req.on('error', reject);
    req.end(spec.body);
  });
}

/** GET returning the parsed JSON body; throws on a non-200. */
export async function getJson<T>(port: number, path: string): Promise<T> {
  const r = await request({ port, path });
  if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${r.body.slice(0, 200)}`);
  return JSON.parse(r.body) as T;
}
