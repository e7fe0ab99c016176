/**
 * Fault: the agent goes away mid-exchange (issue 8, I9, STYLE 15). When the agent
 * disconnects in the middle of an upload, of a server-sent-event stream, or while
 * the credential is still being fetched, the upstream request must be aborted (or
 * never sent), and no socket may be left behind: the proxy listener's connection
 * count and the upstream's open connections return to where they were, checked with
 * bounded polling after ten repetitions of each.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { SECRETS } from '../helpers/stack.js';
import { pollUntil, startRig, type Rig, openaiPrefixRoutes } from '../helpers/sidecar-rig.js';

let rig: Rig;
before(async () => {
  rig = await startRig({
    upstreams: ['openai'],
    credentials: { 'openai/api-key': SECRETS.openai },
    routes: (u) => openaiPrefixRoutes(u),
  });
});
after(() => rig.close());

function proxyConnections(): Promise<number> {
  return new Promise((resolve, reject) => rig.sidecar.server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
}

function open(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(rig.proxyPort, '127.0.0.1', () => resolve(s));
    s.on('error', reject);
  });
}

/** Wait (bounded) until no connection is left on the proxy listener or the upstream. */
async function assertNoLeaks(what: string): Promise<void> {
  const A = rig.ups.openai!;
  const tries = await pollUntil(async () => (await proxyConnections()) === 0 && A.openConnections() === 0, 50, 120);
  assert.ok(tries >= 0, `${what}: ${await proxyConnections()} proxy connection(s) and ${A.openConnections()} upstream connection(s) still open after 6 s`);
}

test('agent disconnects mid-upload: the upstream request is aborted, no socket leaks', async () => {
  const A = rig.ups.openai!;
  for (let i = 0; i < 10; i++) {
    const url = `/v1/upload-${i}`;
    const s = await open();
    s.write(`POST /openai${url} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000000\r\n\r\n`);
    s.write(Buffer.alloc(64 * 1024, 0x62));
    await A.waitUntil(() => A.requests.some((r) => r.url === url && r.bodyBytes > 0), 3000, `upload ${i} to start`);
    s.destroy();
    await A.waitUntil(() => A.requests.some((r) => r.url === url && (r.aborted || r.complete)), 3000, `upload ${i} to end upstream`);
    const r = A.requests.find((x) => x.url === url)!;
    assert.equal(r.complete, false, 'a truncated upload was completed upstream');
    assert.equal(r.aborted, true);
    assert.ok(r.bodyBytes < 1_000_000);
  }
  await assertNoLeaks('mid-upload');
});

test('agent disconnects mid-SSE: the upstream stream is cut, no socket leaks', async () => {
  const A = rig.ups.openai!;
  for (let i = 0; i < 10; i++) {
    const url = `/v1/sse?n=100000&interval=5&i=${i}`;
    const s = await open();
    let got = '';
    const three = new Promise<void>((resolve) => {
      s.on('data', (c: Buffer) => {
        got += c.toString('latin1');
        if ((got.match(/data: /g) ?? []).length >= 3) resolve();
      });
    });
    s.write(`GET /openai${url} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`);
    await three;
    assert.ok(!got.includes(SECRETS.openai));
    s.destroy();
    await A.waitUntil(() => A.requests.some((r) => r.url === url && r.responseCut), 3000, `stream ${i} to be cut upstream`);
  }
  await assertNoLeaks('mid-SSE');
});

test('agent disconnects while the credential is being fetched: nothing is forwarded', async () => {
  const A = rig.ups.openai!;
  const before = A.requests.length;
  rig.vault!.dev!.setDelay(400);
  try {
    // Ten agents ask at once and all leave 50 ms later, long before the credential arrives.
    const sockets = await Promise.all(Array.from({ length: 10 }, () => open()));
    sockets.forEach((s, i) => s.write(`GET /openai/v1/early-${i} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`));
    await new Promise((r) => setTimeout(r, 50));
    for (const s of sockets) s.destroy();
    // Every credential answer has arrived by now (400 ms delay, 1 s vault timeout).
    await new Promise((r) => setTimeout(r, 800));
  } finally {
    rig.vault!.dev!.setDelay(0);
  }
  assert.equal(A.requests.length, before, 'a request was forwarded for an agent that had gone');
  await assertNoLeaks('before forwarding');
});

test('agent disconnects mid-download: the upstream response is cut, no socket leaks', async () => {
  const A = rig.ups.openai!;
  for (let i = 0; i < 5; i++) {
    const url = `/v1/sse?n=100000&interval=1&dl=${i}`;
    const s = await open();
    s.pause(); // never read: the sidecar must apply backpressure, then notice the close
    s.write(`GET /openai${url} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    await A.waitUntil(() => A.requests.some((r) => r.url === url), 3000, `download ${i} to start`);
    await new Promise((r) => setTimeout(r, 100));
    s.destroy();
    await A.waitUntil(() => A.requests.some((r) => r.url === url && r.responseCut), 3000, `download ${i} to be cut upstream`);
  }
  await assertNoLeaks('mid-download');
});

test('the sidecar still serves after all of it', async () => {
  const s = await open();
  const answer = await new Promise<string>((resolve) => {
    let got = '';
    s.on('data', (c: Buffer) => (got += c.toString('latin1')));
    s.on('close', () => resolve(got));
    s.write('GET /openai/v1/ok HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
  });
  assert.match(answer, /^HTTP\/1\.1 200 /);
  await assertNoLeaks('final');
});
