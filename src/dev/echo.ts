/**
 * The development echo upstream used by `sanctum-sidecar dev`: answers every request
 * with what it received, so a new user can see the injected header arrive. It shows
 * credential headers only as a fingerprint (first 6 characters and a sha256 prefix):
 * even a development key should not be taught to travel back to the agent.
 */
import type { Server } from 'node:http';
import { createServer } from '../node-http.js';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';

const CREDENTIAL_HEADERS = new Set(['authorization', 'x-api-key', 'api-key', 'cookie']);

export function fingerprint(value: string): string {
  // Keep an auth scheme ("Bearer", "Basic") readable; fingerprint only the credential.
  const m = /^([A-Za-z]+) (.+)$/.exec(value);
  const scheme = m ? `${m[1]} ` : '';
  const secret = m ? m[2]! : value;
  const digest = createHash('sha256').update(secret).digest('hex').slice(0, 12);
  return `${scheme}${secret.slice(0, 6)}… (${secret.length} chars, sha256:${digest})`;
}

export async function startDevEcho(host = '127.0.0.1', port = 0): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    let size = 0;
    req.on('data', (c: Buffer) => (size += c.length));
    req.on('end', () => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) {
        const text = Array.isArray(v) ? v.join(', ') : (v ?? '');
        headers[k] = CREDENTIAL_HEADERS.has(k) ? fingerprint(text) : text;
      }
      const body = JSON.stringify({ method: req.method, url: req.url, headers, body_bytes: size }, null, 2);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(`${body}\n`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject); // EADDRINUSE for a taken --echo-port
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const a = server.address() as AddressInfo;
  return { server, origin: `http://${a.address}:${a.port}` };
}
