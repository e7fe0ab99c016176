/**
 * Streaming token by token: an SSE upstream sends 20 events 50 ms apart; they must
 * reach the agent as separate reads spread over about a second, not as one block.
 * (Spread is judged by the order and count of reads, not by asserting wall-clock bounds.)
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { startStack, STANDARD_ROUTES, type Stack } from '../../helpers/stack.js';

let s: Stack;
before(async () => {
  s = await startStack({ routes: STANDARD_ROUTES });
});
after(() => s.close());

function readSse(path: string, viaPrefix: boolean): Promise<Array<{ at: number; text: string }>> {
  return new Promise((resolve, reject) => {
    const reads: Array<{ at: number; text: string }> = [];
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port: s.proxyPort,
        path: viaPrefix ? `/openai${path}` : `http://api.openai.com${path}`,
        headers: viaPrefix ? {} : { host: 'api.openai.com' },
      },
      (res) => {
        assert.equal(res.statusCode, 200);
        assert.match(String(res.headers['content-type']), /text\/event-stream/);
        res.on('data', (c: Buffer) => reads.push({ at: performance.now(), text: c.toString('utf8') }));
        res.on('end', () => resolve(reads));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

for (const viaPrefix of [false, true]) {
  test(`SSE events arrive one by one (${viaPrefix ? 'prefix' : 'absolute-form'})`, async () => {
    const reads = await readSse('/v1/sse?n=20&interval=50', viaPrefix);
    const events = reads.map((r) => r.text).join('').split('\n\n').filter((e) => e.startsWith('id: '));
    assert.equal(events.length, 20, 'all 20 events arrived');
    // Not one block: the agent saw many separate reads, each carrying about one event.
    assert.ok(reads.length >= 15, `expected ~20 separate reads, got ${reads.length}`);
    const maxEventsInOneRead = Math.max(...reads.map((r) => r.text.split('\n\n').filter((e) => e.startsWith('id: ')).length));
    assert.ok(maxEventsInOneRead <= 3, `a read carried ${maxEventsInOneRead} events: buffering`);
    // Spread over time: the first read happened well before the last one.
    const spread = reads[reads.length - 1]!.at - reads[0]!.at;
    assert.ok(spread > 500, `reads spread over ${spread.toFixed(0)} ms, expected about a second`);
  });
}
