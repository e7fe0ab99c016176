/**
 * A slow-body attack ends at `limits.body_idle_timeout` (here 300ms), independently of
 * `request_timeout` (left at its default: none). The agent sends its head and part of
 * the body, then nothing: the sidecar answers 408 REQUEST_TIMEOUT, aborts the upstream
 * request that was carrying the partial body, and closes the connection; in inject and
 * delegate mode, with Content-Length and chunked bodies. A body that keeps arriving,
 * however slowly, is not cut.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { startRig, type Rig } from '../helpers/sidecar-rig.js';
import { parseRaw, type RawResponse } from '../helpers/raw.js';

let rig: Rig;
before(async () => {
  rig = await startRig({
    upstreams: ['openai'],
    credentials: { 'openai/api-key': 'sk-slow-body-SECRET-42' },
    extra: 'limits:\n  body_idle_timeout: 300ms',
    routes: (u) => `
egress: { block_private_addresses: false }
routes:
  - { name: openai, prefix: /openai, upstream: "${u.openai!.origin}", allow_plaintext: true, credential: openai/api-key }
  - { name: deleg, prefix: /deleg, upstream: "${u.openai!.origin}", allow_plaintext: true, credential: openai/api-key, mode: delegate }
`,
  });
});
after(() => rig.close());

/** Write `parts` with `gapMs` between them, then wait for the server to close (at most `maxMs`). */
function conversation(parts: string[], gapMs: number, maxMs = 8000): Promise<{ res: RawResponse; closedByServer: boolean }> {
  return new Promise((resolve, reject) => {
    const sock = connect(rig.proxyPort, '127.0.0.1');
    const got: Buffer[] = [];
    let closedByServer = false;
    const give = setTimeout(() => sock.destroy(), maxMs);
    sock.on('data', (c: Buffer) => got.push(c));
    sock.on('end', () => {
      closedByServer = true;
      sock.end();
    });
    sock.on('close', () => {
      clearTimeout(give);
      resolve({ res: parseRaw(Buffer.concat(got).toString('latin1')), closedByServer });
    });
    sock.on('error', (e) => (got.length ? undefined : reject(e)));
    sock.on('connect', async () => {
      for (let i = 0; i < parts.length; i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, gapMs));
        if (!sock.destroyed) sock.write(parts[i]!);
      }
    });
  });
}

function lastLine(): Record<string, unknown> {
  return rig.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'request').at(-1)!;
}

test('a Content-Length body that stops arriving: 408, the upstream request aborted, the connection closed', async () => {
  const up = rig.ups.openai!;
  const n = up.requests.length;
  const { res, closedByServer } = await conversation(['POST /openai/v1/upload HTTP/1.1\r\nHost: s\r\nContent-Length: 1000\r\n\r\n', 'x'.repeat(10)], 50);
  assert.equal(res.status, 408);
  assert.equal(res.headers['x-sanctum-error'], 'REQUEST_TIMEOUT');
  assert.match(res.body, /body_idle_timeout/);
  assert.ok(closedByServer, 'the sidecar closed the connection');
  await up.waitUntil(() => up.requests.length > n && up.requests.at(-1)!.aborted, 3000, "the upstream request aborted");
  assert.equal(up.requests.at(-1)!.complete, false, 'the partial body never completed upstream');
  assert.equal(lastLine().code, 'REQUEST_TIMEOUT');
});

test('a chunked body that stops arriving: 408', async () => {
  const { res, closedByServer } = await conversation(['POST /openai/v1/upload HTTP/1.1\r\nHost: s\r\nTransfer-Encoding: chunked\r\n\r\n', '5\r\nhello\r\n'], 50);
  assert.equal(res.status, 408);
  assert.equal(res.headers['x-sanctum-error'], 'REQUEST_TIMEOUT');
  assert.ok(closedByServer);
});

test('delegate mode (the body is read for the vault): 408, nothing sent to the vault or upstream', async () => {
  const up = rig.ups.openai!;
  const n = up.requests.length;
  const { res } = await conversation(['POST /deleg/v1/x HTTP/1.1\r\nHost: s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n', '{"a":'], 50);
  assert.equal(res.status, 408);
  assert.equal(res.headers['x-sanctum-error'], 'REQUEST_TIMEOUT');
  assert.equal(up.requests.length, n);
});

test('a body that keeps arriving, well within the idle timeout each time, is not cut', async () => {
  const parts = ['POST /openai/v1/upload HTTP/1.1\r\nHost: s\r\nContent-Length: 50\r\nConnection: close\r\n\r\n', ...Array.from({ length: 5 }, () => 'y'.repeat(10))];
  const { res } = await conversation(parts, 40);
  assert.equal(res.status, 200);
  assert.equal(rig.ups.openai!.requests.at(-1)!.bodyBytes, 50);
});
