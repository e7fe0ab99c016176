/**
 * I13: one config snapshot per request. A stream that started under one configuration
 * finishes under it, even when a reload removes its route mid-stream; the next request
 * is matched against the new configuration.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { readFile, writeFile } from 'node:fs/promises';
import { startStack, STANDARD_ROUTES, type Stack } from '../../helpers/stack.js';
import { rawRequest } from '../../helpers/raw.js';

let s: Stack;
before(async () => {
  s = await startStack({ routes: STANDARD_ROUTES });
});
after(() => s.close());

test('a reload that removes a route mid-stream lets the stream finish; the next request is refused', async () => {
  const original = await readFile(s.configPath, 'utf8');
  let reloaded = false;
  const events = await new Promise<string[]>((resolve, reject) => {
    const got: string[] = [];
    const req = httpRequest(
      { host: '127.0.0.1', port: s.proxyPort, path: 'http://api.openai.com/v1/sse?n=10&interval=40', headers: { host: 'api.openai.com' } },
      (res) => {
        assert.equal(res.statusCode, 200);
        let buf = '';
        res.on('data', (c: Buffer) => {
          buf += c.toString('utf8');
          const parts = buf.split('\n\n');
          buf = parts.pop()!;
          got.push(...parts.filter((p) => p.startsWith('id: ')));
          if (!reloaded && got.length >= 2) {
            reloaded = true;
            // The openai route disappears while its stream is still running.
            const without = original.replace(/  - name: openai[\s\S]*?(?=  - name: anthropic)/, '');
            void writeFile(s.configPath, without).then(() => s.sidecar.reload());
          }
        });
        res.on('end', () => resolve(got));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
  assert.ok(reloaded, 'the reload happened during the stream');
  assert.equal(events.length, 10, 'the stream begun under the old configuration ran to its end');
  assert.equal(s.sidecar.snapshot().config.routes.some((r) => r.name === 'openai'), false);
  const next = await rawRequest(s.proxyPort, 'GET http://api.openai.com/v1/models HTTP/1.1\r\nHost: api.openai.com\r\nConnection: close\r\n\r\n');
  assert.deepEqual([next.status, next.headers['x-sanctum-error']], [403, 'NO_ROUTE'], 'the next request sees the new configuration');
});
