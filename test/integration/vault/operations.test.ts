// Client + dev vault over TCP and over a Unix socket: authentication and every operation.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestVault, type TestVault } from '../../helpers/devvault.js';
import type { VaultClient } from '../../../src/vault/client.js';
import { makeClient, startUpstream } from './support.js';

const CREDENTIALS = {
  'openai/api-key': 'sk-test-123',
  'basic/creds': 'user:pass',
  'webhooks/secret': 'webhook-secret',
  'crypto/key': 'k-1',
};

for (const transport of ['tcp', 'unix'] as const) {
  describe(`over ${transport}`, () => {
    let tv: TestVault;
    let client: VaultClient;
    let upstream: Awaited<ReturnType<typeof startUpstream>>;

    before(async () => {
      upstream = await startUpstream();
      tv = await startTestVault({
        credentials: CREDENTIALS,
        socket: transport === 'unix',
        policies: [
          { name: 'all', principal: 'agent:test-agent', resources: ['openai/*', 'basic/*', 'webhooks/*', 'crypto/*'], actions: ['use', 'retrieve', 'list'] },
        ],
      });
      tv.vault.setCredential('hidden/one', 'not-listed');
      ({ client } = makeClient(tv.endpoint, { seed: tv.seed, agent: tv.agent }));
      client.start();
      await client.whenReady(5000);
    });
    after(async () => {
      await client.close();
      await tv.close();
      await upstream.close();
    });

    test('authenticates by challenge-response', () => {
      assert.equal(client.state.status, 'ready');
      const auth = tv.vault.audit.filter((a) => a.method === 'authenticate' || a.method === 'challenge_response');
      assert.deepEqual(auth.map((a) => [a.method, a.agent, a.allowed]), [
        ['authenticate', 'test-agent', true],
        ['challenge_response', 'test-agent', true],
      ]);
    });

    test('http_header for bearer, api_key, basic and custom', async () => {
      const cases = [
        [{ headerType: 'bearer' }, 'openai/api-key', 'authorization', 'Bearer sk-test-123'],
        [{ headerType: 'api_key' }, 'openai/api-key', 'x-api-key', 'sk-test-123'],
        [{ headerType: 'basic' }, 'basic/creds', 'authorization', 'Basic dXNlcjpwYXNz'],
        [{ headerType: 'custom', headerName: 'X-Custom-Key' }, 'openai/api-key', 'x-custom-key', 'sk-test-123'],
      ] as const;
      for (const [spec, path, name, value] of cases) {
        const h = await client.useHttpHeader(path, spec);
        assert.equal(h.headerName, name);
        assert.equal(h.headerValue.reveal(), value);
      }
    });

    test('http_request: the vault injects the credential, replacing the caller\'s', async () => {
      const r = await client.useHttpRequest('openai/api-key', {
        method: 'POST',
        url: `${upstream.origin}/v1/things?q=1`,
        headers: { 'content-type': 'text/plain', authorization: 'Bearer placeholder', 'x-trace': 't1' },
        body: 'hello',
        headerType: 'bearer',
      });
      assert.equal(r.status, 200);
      assert.equal(r.headers['x-upstream'], 'yes');
      assert.equal(r.body, 'echo POST /v1/things?q=1 hello');
      const seen = upstream.seen.at(-1)!;
      assert.equal(seen.headers.authorization, 'Bearer sk-test-123');
      assert.equal(seen.headers['x-trace'], 't1');
    });

    test('sign (hmac-sha256, base64)', async () => {
      assert.equal(await client.sign('webhooks/secret', 'payload-to-sign'), 'Ox+9l+U9R30+fW+AenxzSdRbtk47wZRWDSRE1G9dyA8=');
    });

    test('encrypt and decrypt round-trip; the ciphertext is opaque and bound to its credential', async () => {
      const ct = await client.encrypt('crypto/key', 'plain text ✓');
      assert.ok(!ct.includes('plain'));
      assert.equal(await client.decrypt('crypto/key', ct), 'plain text ✓');
      await assert.rejects(client.decrypt('openai/api-key', ct), { code: 'DECRYPT_FAILED' });
    });

    test('retrieve: hex value decoded into a Secret, with a lease and TTL; release_lease', async () => {
      const r = await client.retrieve('openai/api-key', 60);
      assert.equal(r.value.reveal(), 'sk-test-123');
      assert.equal(r.ttl, 60);
      assert.match(r.leaseId, /^[0-9a-f-]{36}$/);
      await client.releaseLease(r.leaseId);
      await assert.rejects(client.releaseLease(r.leaseId), { code: 'NOT_FOUND' });
    });

    test('list shows only what policy lets the agent list', async () => {
      const paths = (await client.list()).map((c) => c.path).sort();
      assert.deepEqual(paths, Object.keys(CREDENTIALS).sort());
    });
  });
}

test('leases taken by retrieve are released on close()', async () => {
  const tv = await startTestVault({ credentials: { a: 'v-a', b: 'v-b' } });
  try {
    const { client } = makeClient(tv.endpoint, { seed: tv.seed, agent: tv.agent });
    client.start();
    await client.whenReady(5000);
    const l1 = await client.retrieve('a');
    const l2 = await client.retrieve('b');
    const l3 = await client.retrieve('a');
    await client.releaseLease(l3.leaseId);
    await client.close();
    const released = tv.vault.audit.filter((e) => e.method === 'release_lease' && e.allowed).length;
    assert.equal(released, 3);
    assert.ok(l1.leaseId !== l2.leaseId);
  } finally {
    await tv.close();
  }
});
