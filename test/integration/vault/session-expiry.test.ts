// Session expiry forced by the dev vault: the next call succeeds after a re-authentication the caller never sees.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startTestVault } from '../../helpers/devvault.js';
import { makeClient } from './support.js';

test('expireSessions(): the next call re-authenticates on the same connection and succeeds', async () => {
  const tv = await startTestVault({ credentials: { k: 'sk-k' } });
  const { client, events } = makeClient(tv.endpoint, { seed: tv.seed, agent: tv.agent });
  try {
    client.start();
    await client.whenReady(5000);
    await client.useHttpHeader('k', { headerType: 'bearer' });
    tv.vault.expireSessions();
    const h = await client.useHttpHeader('k', { headerType: 'bearer' });
    assert.equal(h.headerValue.reveal(), 'Bearer sk-k');
    const trail = tv.vault.audit.map((a) => `${a.method}:${a.allowed ? 'ok' : a.reason}`);
    assert.deepEqual(trail, [
      'authenticate:ok',
      'challenge_response:ok',
      'use:ok',
      'use:session expired',
      'authenticate:ok',
      'challenge_response:ok',
      'use:ok',
    ]);
    const calls = events.filter((e) => e.type === 'call');
    assert.ok(calls.every((e) => e.type === 'call' && e.ok), 'the caller saw no failure');
    assert.equal(events.filter((e) => e.type === 'state' && e.state.status === 'ready').length, 1, 'no reconnect');
  } finally {
    await client.close();
    await tv.close();
  }
});

test('a short session lifetime (sessionTtlMs) expires sessions on its own', async () => {
  const tv = await startTestVault({ credentials: { k: 'sk-k' }, sessionTtlMs: 20 });
  const { client } = makeClient(tv.endpoint, { seed: tv.seed, agent: tv.agent });
  try {
    client.start();
    await client.whenReady(5000);
    await new Promise((r) => setTimeout(r, 60)); // let the 20 ms session lapse
    assert.equal((await client.useHttpHeader('k', { headerType: 'api_key' })).headerValue.reveal(), 'sk-k');
    assert.ok(tv.vault.audit.some((a) => a.reason === 'session expired'));
    assert.equal(tv.vault.audit.filter((a) => a.method === 'challenge_response' && a.allowed).length, 2);
  } finally {
    await client.close();
    await tv.close();
  }
});
