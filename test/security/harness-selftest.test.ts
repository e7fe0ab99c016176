/**
 * The capture fixture must actually see what the hostile suite relies on it to see:
 * a credential on the wrong upstream, any byte or connection on a refused request, an
 * aborted upload. Checked here against the fixture directly, without a sidecar, so a
 * silent fixture cannot make the hostile suite pass vacuously.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { ledger, misroutedSecrets, startCaptureUpstream, touchedSince } from '../helpers/capture-upstream.js';
import { converse } from '../helpers/wire.js';

test('the capture fixture reports misrouted secrets, touched upstreams and aborted requests', async () => {
  const a = await startCaptureUpstream('a');
  const b = await startCaptureUpstream('b');
  try {
    const secrets = { sa: 'sk-SECRET-A-000', sb: 'sk-SECRET-B-111' };
    const allowed = { a: ['sa'], b: ['sb'] };
    const before = ledger([a, b]);
    assert.deepEqual(touchedSince([a, b], before), []);

    // A's secret sent to B (in a header) and B's secret to B: only the first is a leak.
    const c = await converse(b.port, [`GET /x HTTP/1.1\r\nHost: b\r\nAuthorization: Bearer ${secrets.sa}\r\nX-Api-Key: ${secrets.sb}\r\n\r\n`]);
    assert.equal(c.responses[0]?.status, 200);
    assert.ok(!c.raw.includes(secrets.sa), 'the fixture never reflects credentials');
    assert.deepEqual(touchedSince([a, b], before), ['b']);
    assert.deepEqual(misroutedSecrets([a, b], secrets, allowed), ['b: sa']);

    // A bare connection with no bytes still counts as reaching the upstream.
    const before2 = ledger([a, b]);
    const s = connect(a.port, '127.0.0.1');
    await new Promise((r) => s.once('connect', r));
    await a.waitUntil(() => a.connections() > before2.connections.a!, 2000, 'the connection');
    assert.deepEqual(touchedSince([a, b], before2), ['a']);

    // An upload cut off mid-body is recorded as aborted, not complete.
    s.write('POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nhalf');
    await a.waitUntil(() => a.requests.some((r) => r.url === '/up' && r.bodyBytes === 4), 2000, 'the upload');
    s.destroy();
    await a.waitUntil(() => a.requests.some((r) => r.url === '/up' && r.aborted), 2000, 'the abort');
    const up = a.requests.find((r) => r.url === '/up')!;
    assert.equal(up.complete, false);

    // Base64 of a secret (Basic auth) is recognised too.
    await converse(a.port, [`GET /y HTTP/1.1\r\nHost: a\r\nAuthorization: Basic ${Buffer.from(secrets.sb).toString('base64')}\r\n\r\n`]);
    assert.deepEqual(misroutedSecrets([a, b], secrets, allowed), ['a: sb', 'b: sa']);
  } finally {
    await a.close();
    await b.close();
  }
});
