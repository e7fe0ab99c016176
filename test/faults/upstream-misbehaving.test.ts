/**
 * Fault: the upstream misbehaves (issue 8, I15). A raw TCP upstream that reads the
 * request head and then, by path: never answers; resets before answering; answers
 * headers and part of a body, then resets; answers headers and then goes silent;
 * answers bytes that are not HTTP; answers with ambiguous framing; resets while the
 * agent is still uploading. The route has `timeouts: {headers: 500ms, idle: 500ms}`.
 *
 * The agent must get the catalogued error when nothing was answered yet (504
 * UPSTREAM_TIMEOUT, 502 UPSTREAM_ERROR), a cut-off response (never a clean end) when
 * the failure came mid-body, never the credential, and the sidecar must keep serving.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { SECRETS } from '../helpers/stack.js';
import { startRig, type Rig, openaiPrefixRoutes } from '../helpers/sidecar-rig.js';
import { converse } from '../helpers/wire.js';

interface BadUpstream {
  readonly port: number;
  /** Request heads received, latin1. */
  readonly heads: string[];
  close(): Promise<void>;
}

async function startBadUpstream(): Promise<BadUpstream> {
  const heads: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    let buf = '';
    let handled = false;
    s.on('data', (c: Buffer) => {
      buf += c.toString('latin1');
      if (handled) return;
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      handled = true;
      const head = buf.slice(0, end);
      heads.push(head);
      const path = /^[A-Z]+ (\S+)/.exec(head)?.[1] ?? '/';
      if (path.endsWith('/hang')) return;
      if (path.endsWith('/reset-now')) return void s.resetAndDestroy();
      if (path.endsWith('/reset-mid-body')) {
        s.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\npartial-');
        setTimeout(() => s.resetAndDestroy(), 50);
        return;
      }
      if (path.endsWith('/silent-body')) {
        s.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\nstart-');
        return; // never more
      }
      if (path.endsWith('/not-http')) return void s.end('SSH-2.0-OpenSSH_9.6\r\n\x00\x01garbage');
      if (path.endsWith('/cl-and-te')) {
        return void s.end('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nxyz');
      }
      if (path.endsWith('/reset-during-upload')) {
        // Read a little of the body, then reset while the agent is still sending.
        setTimeout(() => s.resetAndDestroy(), 100);
        return;
      }
      s.end('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 16\r\nConnection: close\r\n\r\n{"upstream":"ok"}'.slice(0, 200));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    heads,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

let bad: BadUpstream;
let rig: Rig;
before(async () => {
  bad = await startBadUpstream();
  rig = await startRig({
    upstreams: ['openai'],
    credentials: { 'openai/api-key': SECRETS.openai, 'bad/key': SECRETS.github },
    routes: (u) =>
      openaiPrefixRoutes(
        u,
        `  - name: bad
    prefix: /bad
    upstream: http://127.0.0.1:${bad.port}
    allow_plaintext: true
    credential: bad/key
    timeouts: { headers: 500ms, idle: 500ms }
`,
      ),
  });
});
after(async () => {
  await rig.close();
  await bad.close();
});

async function exchange(path: string, extra = ''): Promise<Awaited<ReturnType<typeof converse>>> {
  const c = await converse(rig.proxyPort, [`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${extra}\r\n`], { quietMs: 3000, maxMs: 8000 });
  for (const v of Object.values(SECRETS)) assert.ok(!c.raw.includes(v), 'a credential came back to the agent');
  return c;
}

async function stillServes(): Promise<void> {
  const c = await exchange('/openai/v1/ok');
  assert.equal(c.responses[0]?.status, 200);
}

test('upstream never answers: 504 UPSTREAM_TIMEOUT after the route headers timeout', async () => {
  const c = await exchange('/bad/hang');
  assert.equal(c.responses[0]?.status, 504);
  assert.equal(c.responses[0]?.headers['x-sanctum-error'], 'UPSTREAM_TIMEOUT');
  await stillServes();
});

test('upstream resets before answering: 502 UPSTREAM_ERROR', async () => {
  const c = await exchange('/bad/reset-now');
  assert.equal(c.responses[0]?.status, 502);
  assert.equal(c.responses[0]?.headers['x-sanctum-error'], 'UPSTREAM_ERROR');
  await stillServes();
});

test('upstream resets mid-body: the agent sees a cut-off response, never a clean end', async () => {
  const c = await exchange('/bad/reset-mid-body');
  assert.equal(c.responses[0]?.status, 200);
  assert.equal(c.responses[0]?.complete, false, 'the truncated body must not look complete');
  assert.ok(c.closedByServer, 'the connection was closed');
  await stillServes();
});

test('upstream goes silent mid-body: cut off after the idle timeout', async () => {
  const c = await exchange('/bad/silent-body');
  assert.equal(c.responses[0]?.status, 200);
  assert.equal(c.responses[0]?.complete, false);
  assert.ok(c.closedByServer && c.closedAfterMs! < 4000, `closed after ${c.closedAfterMs} ms`);
  await stillServes();
});

test('upstream answers bytes that are not HTTP: 502 UPSTREAM_ERROR', async () => {
  const c = await exchange('/bad/not-http');
  assert.equal(c.responses[0]?.status, 502);
  assert.equal(c.responses[0]?.headers['x-sanctum-error'], 'UPSTREAM_ERROR');
  assert.ok(!c.raw.includes('SSH-2.0'));
  await stillServes();
});

test('upstream answers with Content-Length and Transfer-Encoding (response smuggling): 502, the smuggled answer never reaches the agent', async () => {
  const c = await exchange('/bad/cl-and-te');
  assert.equal(c.responses[0]?.status, 502);
  assert.ok(!c.raw.includes('xyz'));
  await stillServes();
});

test('upstream resets while the agent is still uploading: 502 or a closed connection, and the sidecar keeps serving', async () => {
  const body = Buffer.alloc(256 * 1024, 0x61);
  const steps = [`POST /bad/reset-during-upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${body.length * 8}\r\n\r\n`];
  const c = await converse(rig.proxyPort, [...steps, body, { pause: 150 }, body, { pause: 150 }, body], { quietMs: 1500, maxMs: 6000 });
  for (const v of Object.values(SECRETS)) assert.ok(!c.raw.includes(v));
  if (c.responses.length > 0) {
    assert.equal(c.responses[0]!.status, 502);
    assert.equal(c.responses[0]!.headers['x-sanctum-error'], 'UPSTREAM_ERROR');
  } else {
    assert.ok(c.closedByServer, 'no answer and the connection left open');
  }
  await stillServes();
});

test('every request the misbehaving upstream received carried its own credential only', () => {
  assert.ok(bad.heads.length >= 7);
  for (const h of bad.heads) {
    assert.ok(h.includes(`authorization: Bearer ${SECRETS.github}`), 'the bad route credential');
    assert.ok(!h.includes(SECRETS.openai));
  }
});
