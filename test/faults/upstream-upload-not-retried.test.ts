/**
 * Issue 18: a large streamed upload is never held and never retried. A 10 MiB PUT (an
 * idempotent method, so only its size stands in the way) goes out on a reused upstream
 * connection that resets after 256 KiB. The agent gets a 502 UPSTREAM_ERROR saying the
 * body was past `limits.retry_buffer`; the upstream saw the request once, no second
 * connection was opened, and no retry was counted. Both framings: chunked (the body is
 * held until it outgrows the buffer) and a Content-Length above the buffer (never held).
 * The sidecar drains the rest of the upload before it answers, so the agent reads the
 * 502 instead of a reset.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { Agent, request } from 'undici';
import { SECRETS } from '../helpers/stack.js';
import { startRig, type Rig } from '../helpers/sidecar-rig.js';
import { startClosingUpstream, type ClosingUpstream } from '../helpers/closing-upstream.js';

let up: ClosingUpstream;
let rig: Rig;

const TEN_MIB = 10 * 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, 0x61);

before(async () => {
  up = await startClosingUpstream({ policy: (r) => (r.index === 0 ? 'answer' : 'reset-mid-body') });
  rig = await startRig({
    upstreams: [],
    credentials: { 'up/key': SECRETS.openai },
    routes: () => `
egress:
  block_private_addresses: false
routes:
  - name: upload
    prefix: /upload
    upstream: http://127.0.0.1:${up.port}
    allow_plaintext: true
    credential: up/key
`,
  });
});
after(async () => {
  await rig.close();
  await up.close();
});

/** 10 MiB, produced as the transport asks for it. */
function tenMiB(): Readable {
  let sent = 0;
  return new Readable({
    read(): void {
      if (sent >= TEN_MIB) return void this.push(null);
      sent += CHUNK.length;
      this.push(CHUNK);
    },
  });
}

async function upload(id: string, withLength: boolean): Promise<{ status: number | null; error: string | null; body: string }> {
  const agent = new Agent();
  try {
    // Warm the pool so the upload goes out on a reused connection.
    const warm = await request(`http://127.0.0.1:${rig.proxyPort}/upload/warm`, { dispatcher: agent, headers: { 'x-req': `${id}-warm` } });
    await warm.body.dump();
    assert.equal(warm.statusCode, 200);
    const r = await request(`http://127.0.0.1:${rig.proxyPort}/upload/blob`, {
      dispatcher: agent,
      method: 'PUT',
      headers: { 'x-req': id, 'content-type': 'application/octet-stream', ...(withLength ? { 'content-length': String(TEN_MIB) } : {}) },
      body: tenMiB(),
    });
    return { status: r.statusCode, error: null, body: await r.body.text() };
  } catch (err) {
    return { status: null, error: (err as { code?: string }).code ?? String(err), body: '' };
  } finally {
    await agent.destroy();
  }
}

for (const withLength of [false, true]) {
  test(`a 10 MiB streamed PUT (${withLength ? 'Content-Length' : 'chunked'}) on a failing reused connection: no retry, a clear 502, nothing duplicated`, async () => {
    const id = `upload-${withLength ? 'cl' : 'chunked'}`;
    const connections = up.connections;
    const bytesBefore = up.bodyBytes;
    const r = await upload(id, withLength);
    // The sidecar reads the rest of the upload before answering, so the agent reads the 502, not a reset.
    assert.equal(r.status, 502, `the agent got ${r.error ?? r.status}`);
    const body = JSON.parse(r.body) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'UPSTREAM_ERROR');
    assert.match(body.error.message, /larger than limits\.retry_buffer/);
    const seen = up.seen.filter((s) => s.headers['x-req'] === id);
    assert.deepEqual(
      seen.map((s) => s.index),
      [1],
      'the upload went out once, on the reused connection',
    );
    assert.equal(up.connections, connections + 1, 'only the warm-up opened a connection');
    assert.ok(up.bodyBytes - bytesBefore < TEN_MIB, 'the upstream never received the whole body');
    assert.equal(up.handled.get(id), undefined);
    const m = await rig.sidecar.metrics.upstreamRetries.get();
    assert.equal(m.values.reduce((n, v) => n + v.value, 0), 0);
    const line = rig.logs
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.msg === 'request' && l.method === 'PUT')
      .at(-1)!;
    assert.equal(line.retried, null);
    assert.equal(line.code, 'UPSTREAM_ERROR');
    assert.equal(line.status, 502);
  });
}
