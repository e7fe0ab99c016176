/**
 * I7: credentials leave only over verified TLS, on a dispatcher the sidecar builds itself.
 * The process refuses to start when NODE_TLS_REJECT_UNAUTHORIZED=0 would switch
 * verification off, and proxy variables in its own environment (HTTP_PROXY and friends,
 * which undici's env-aware agents would obey) never divert a credential request.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { assertTlsVerification, startSidecar } from '../../src/app.js';
import { parseConfig } from '../../src/config/load.js';
import { startStack, STANDARD_ROUTES, SECRETS } from '../helpers/stack.js';
import { countingListener } from '../integration/connect/helpers.js';

test('NODE_TLS_REJECT_UNAUTHORIZED=0 refuses start-up, before anything listens', async () => {
  assert.throws(() => assertTlsVerification({ NODE_TLS_REJECT_UNAUTHORIZED: '0' }), /NODE_TLS_REJECT_UNAUTHORIZED=0/);
  assert.doesNotThrow(() => assertTlsVerification({ NODE_TLS_REJECT_UNAUTHORIZED: '1' }));
  const config = parseConfig('version: 1\nlisten: 127.0.0.1:0\nadmin: false\nvault: { agent: a, tcp: "127.0.0.1:9", key_file: /nonexistent.key }\n', 't.yaml', {});
  await assert.rejects(startSidecar({ config, env: { NODE_TLS_REJECT_UNAUTHORIZED: '0' }, defaultMetrics: false }), /refuses to send credentials/);
});

test('proxy variables in the sidecar process environment do not divert upstream requests', async () => {
  const trap = await countingListener();
  const names = ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'ALL_PROXY', 'NO_PROXY', 'no_proxy'];
  const saved = names.map((n) => [n, process.env[n]] as const);
  for (const n of names) process.env[n] = n.toLowerCase().startsWith('no') ? '' : `http://127.0.0.1:${trap.port}`;
  const s = await startStack({ routes: STANDARD_ROUTES });
  try {
    const r = await request('http://api.openai.com/v1/models', { dispatcher: s.agent });
    await r.body.dump();
    assert.equal(r.statusCode, 200);
    assert.equal(s.echo.requests.at(-1)!.headers.authorization, `Bearer ${SECRETS.openai}`);
    assert.equal(trap.count(), 0, 'the proxy named in the environment was never dialled');
  } finally {
    for (const [n, v] of saved) {
      if (v === undefined) delete process.env[n];
      else process.env[n] = v;
    }
    await s.close();
    await trap.close();
  }
});
