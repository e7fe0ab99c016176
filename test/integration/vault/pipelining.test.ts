// 1,000 concurrent `use` calls on one connection, answered in a shuffled order: each gets its own answer.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { makeClient, startScriptedServer, type Reply } from './support.js';

test('1,000 concurrent calls answered out of order all resolve to the right answers', async () => {
  const N = 1000;
  const held: [Reply, string][] = [];
  const server = await startScriptedServer((req, reply) => {
    held.push([reply, String(req.params.path)]);
    if (held.length < N) return;
    // Fisher-Yates over everything, then answer in that order.
    for (let i = held.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [held[i], held[j]] = [held[j]!, held[i]!];
    }
    for (const [r, path] of held) r({ result: { header_name: 'X-Path', header_value: `value-for-${path}` } });
  });
  const { client } = makeClient(server.endpoint, { callTimeoutMs: 30_000 });
  try {
    client.start();
    await client.whenReady(5000);
    const calls = Array.from({ length: N }, (_, i) => client.useHttpHeader(`cred/${i}`, { headerType: 'bearer' }));
    const answers = await Promise.all(calls);
    answers.forEach((h, i) => assert.equal(h.headerValue.reveal(), `value-for-cred/${i}`));
    assert.equal(server.sockets.size, 1, 'all calls shared one connection');
    assert.equal(server.handshakes, 1);
    const ids = new Set(server.requests.map((r) => r.id));
    assert.equal(ids.size, N, 'ids are unique per connection');
  } finally {
    await client.close();
    await server.close();
  }
});
