// Error codes the dev vault produces, over TCP and a Unix socket, each surfacing as its own class.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { randomBytes } from 'node:crypto';
import * as E from '../../../src/vault/errors.js';
import type { VaultClient } from '../../../src/vault/client.js';
import { startTestVault, type TestVault } from '../../helpers/devvault.js';
import { caught, makeClient, untilStatus } from './support.js';

for (const transport of ['tcp', 'unix'] as const) {
  describe(`dev vault errors over ${transport}`, () => {
    let tv: TestVault;
    let client: VaultClient;

    before(async () => {
      tv = await startTestVault({
        socket: transport === 'unix',
        credentials: { 'app/key': 'sk-app', 'sign/only': 'sk-sign', 'web/key': 'sk-web', 'other/key': 'sk-other' },
        allowLoopback: false,
        rateLimitPerSecond: 1000,
        policies: [
          { name: 'app', principal: 'agent:test-agent', resources: ['app/*'], actions: ['use', 'retrieve', 'list'] },
          { name: 'sign-only', principal: 'agent:test-agent', resources: ['sign/*'], actions: ['use'], allowed_operations: ['sign'] },
          { name: 'web', principal: 'agent:test-agent', resources: ['web/*'], actions: ['use'], allowed_domains: ['api.example.com'] },
        ],
      });
      ({ client } = makeClient(tv.endpoint, { seed: tv.seed, agent: tv.agent }));
      client.start();
      await client.whenReady(5000);
    });
    after(async () => {
      await client.close();
      await tv.close();
    });

    test('ACCESS_DENIED: no policy grants the path', async () => {
      const e = await caught(client.useHttpHeader('other/key', { headerType: 'bearer' }));
      assert.ok(e instanceof E.VaultAccessDeniedError, String(e));
      assert.ok(e instanceof E.VaultDeniedError);
      const e2 = await caught(client.retrieve('sign/only'));
      assert.ok(e2 instanceof E.VaultAccessDeniedError, String(e2));
    });

    test('POLICY_DENIED: allowed_operations and allowed_domains', async () => {
      const e = await caught(client.useHttpHeader('sign/only', { headerType: 'bearer' }));
      assert.ok(e instanceof E.VaultPolicyDeniedError, String(e));
      assert.equal(await client.sign('sign/only', 'x').then((s) => typeof s), 'string');
      const e2 = await caught(client.useHttpRequest('web/key', { method: 'GET', url: 'http://evil.example/', headers: {}, body: '', headerType: 'bearer' }));
      assert.ok(e2 instanceof E.VaultPolicyDeniedError, String(e2));
    });

    test('SSRF_BLOCKED: internal targets refused without allow_loopback', async () => {
      for (const url of ['http://127.0.0.1:9/', 'http://[::1]:9/', 'http://169.254.169.254/latest/meta-data', 'http://10.0.0.1/', 'http://localhost:9/']) {
        const e = await caught(client.useHttpRequest('app/key', { method: 'GET', url, headers: {}, body: '', headerType: 'bearer' }));
        assert.ok(e instanceof E.VaultSsrfBlockedError, `${url}: ${String(e)}`);
      }
    });

    test('CREDENTIAL_NOT_FOUND and NOT_FOUND', async () => {
      const e = await caught(client.useHttpHeader('app/missing', { headerType: 'bearer' }));
      assert.ok(e instanceof E.VaultCredentialNotFoundError, String(e));
      assert.ok(e instanceof E.VaultNotFoundError);
      const e2 = await caught(client.releaseLease('no-such-lease'));
      assert.ok(e2 instanceof E.VaultPathNotFoundError, String(e2));
    });

    test('VAULT_LOCKED for use and retrieve while locked', async () => {
      tv.vault.setLocked(true);
      try {
        assert.ok((await caught(client.useHttpHeader('app/key', { headerType: 'bearer' }))) instanceof E.VaultLockedError);
        assert.ok((await caught(client.retrieve('app/key'))) instanceof E.VaultLockedError);
      } finally {
        tv.vault.setLocked(false);
      }
      assert.equal((await client.useHttpHeader('app/key', { headerType: 'bearer' })).headerValue.reveal(), 'Bearer sk-app');
    });

    test('an unknown code (from the dev vault: DECRYPT_FAILED, INVALID_PARAMS) is a VaultUnknownError keeping its code', async () => {
      const e = await caught(client.decrypt('app/key', 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=='));
      assert.ok(e instanceof E.VaultUnknownError, String(e));
      assert.equal((e as E.VaultError).code, 'DECRYPT_FAILED');
      const e2 = await caught(client.useHttpHeader('app/key', { headerType: 'custom' }));
      assert.equal((e2 as E.VaultError).code, 'INVALID_PARAMS');
    });

    test('AUTH_FAILED: a wrong key leaves the client failed with the reason, failing calls fast', async () => {
      const { client: wrong } = makeClient(tv.endpoint, { seed: new Uint8Array(randomBytes(32)), agent: tv.agent, backoff: { initialMs: 5000, maxMs: 5000 } });
      wrong.start();
      await untilStatus(wrong, 'failed');
      assert.match(wrong.state.reason ?? '', /AUTH_FAILED: signature does not verify/);
      const e = await caught(wrong.useHttpHeader('app/key', { headerType: 'bearer' }));
      assert.ok(e instanceof E.VaultUnavailableError, String(e));
      assert.match((e as Error).message, /AUTH_FAILED/);
      await wrong.close();
      const { client: stranger } = makeClient(tv.endpoint, { agent: 'nobody', backoff: { initialMs: 5000, maxMs: 5000 } });
      stranger.start();
      await untilStatus(stranger, 'failed');
      await assert.rejects(stranger.whenReady(1), E.VaultUnavailableError);
      assert.match(stranger.state.reason ?? '', /AUTH_FAILED: agent "nobody" is not registered/);
      await stranger.close();
    });
  });
}

test('RATE_LIMITED carries retryAfter from the dev vault', async () => {
  const tv = await startTestVault({ credentials: { k: 'v' }, rateLimitPerSecond: 2 });
  const { client } = makeClient(tv.endpoint, { seed: tv.seed, agent: tv.agent });
  try {
    client.start();
    await client.whenReady(5000);
    const results = await Promise.allSettled([1, 2, 3, 4, 5].map(() => client.useHttpHeader('k', { headerType: 'bearer' })));
    const limited = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason as unknown);
    assert.ok(limited.length >= 3, `expected at least 3 refusals, got ${limited.length}`);
    for (const e of limited) {
      assert.ok(e instanceof E.VaultRateLimitedError, String(e));
      assert.ok(typeof e.retryAfter === 'number' && e.retryAfter >= 1);
    }
  } finally {
    await client.close();
    await tv.close();
  }
});
