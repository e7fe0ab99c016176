// The secret value appears nowhere: not in the audit log (file or memory), not in any error message or
// inspected error, not in the dev vault's log lines, not in util.inspect of any client object.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { inspect } from 'node:util';
import { startTestVault } from '../../helpers/devvault.js';
import { makeClient, startScriptedServer, startUpstream } from './support.js';

const CANARY = 'sk-LEAK-CANARY-7f3a9c';
const CANARY_HEX = Buffer.from(CANARY).toString('hex');
const CANARY_B64 = Buffer.from(`user:${CANARY}`).toString('base64');

function assertClean(label: string, text: string): void {
  for (const form of [CANARY, CANARY_HEX, CANARY_B64]) assert.ok(!text.includes(form), `${label} contains the secret (${form.slice(0, 8)}...):\n${text.slice(0, 2000)}`);
}

const show = (v: unknown): string => inspect(v, { depth: Infinity, showHidden: true, getters: true });

test('dev vault + client: audit, errors, logs and inspect never show the secret', async () => {
  const upstream = await startUpstream();
  const vaultLog: string[] = [];
  const tv2 = await startTestVault({
    credentials: { good: CANARY, basic: `user:${CANARY}` },
    policies: [{ name: 'p', principal: 'agent:*', resources: ['good', 'basic', 'crlf'], actions: ['use', 'retrieve', 'list'] }],
    log: (line) => void vaultLog.push(line),
  });
  const { client, events } = makeClient(tv2.endpoint, { seed: tv2.seed, agent: tv2.agent, callTimeoutMs: 3000 });
  const errors: unknown[] = [];
  const results: unknown[] = [];
  const attempt = async (p: Promise<unknown>): Promise<void> => {
    await p.then(
      (r) => void results.push(r),
      (e: unknown) => void errors.push(e),
    );
  };
  try {
    client.start();
    await client.whenReady(5000);
    await attempt(client.useHttpHeader('good', { headerType: 'bearer' }));
    await attempt(client.useHttpHeader('basic', { headerType: 'basic' }));
    await attempt(client.retrieve('good'));
    await attempt(client.sign('good', 'data'));
    await attempt(client.encrypt('good', 'data'));
    await attempt(client.list());
    await attempt(client.useHttpRequest('good', { method: 'GET', url: `${upstream.origin}/`, headers: {}, body: '', headerType: 'bearer' }));
    // Failures of every kind.
    await attempt(client.useHttpHeader('good', { headerType: 'custom', headerName: 'bad name' }));
    await attempt(client.useHttpHeader('secret-path-not-allowed', { headerType: 'bearer' }));
    tv2.vault.setCredential('crlf', `${CANARY}\r\nX-Injected: 1`);
    await attempt(client.useHttpHeader('crlf', { headerType: 'bearer' }));
    await attempt(client.decrypt('good', 'bm90IGEgY2lwaGVydGV4dCBhdCBhbGw='));
    await attempt(client.useHttpRequest('good', { method: 'GET', url: 'http://127.0.0.1:1/', headers: {}, body: '', headerType: 'bearer' }));
    await attempt(client.useHttpRequest('good', { method: 'GET', url: 'http://10.0.0.1/', headers: {}, body: '', headerType: 'bearer' }));
    tv2.vault.setLocked(true);
    await attempt(client.retrieve('good'));
    tv2.vault.setLocked(false);
    tv2.vault.setDelay(200);
    const { client: impatient } = makeClient(tv2.endpoint, { seed: tv2.seed, agent: tv2.agent, callTimeoutMs: 50, connectTimeoutMs: 1000 });
    impatient.start();
    await attempt(impatient.whenReady(100));
    tv2.vault.setDelay(0);
    await impatient.whenReady(5000);
    tv2.vault.setDelay(200);
    await attempt(impatient.useHttpHeader('good', { headerType: 'bearer' }));
    tv2.vault.setDelay(0);
    assertClean('inspect(impatient)', show(impatient));
    await impatient.close();

    assert.ok(errors.length >= 8, `expected failures, got ${errors.length}`);
    for (const e of errors) {
      assertClean('error message', String((e as Error).message));
      assertClean('inspected error', show(e));
      assertClean('JSON of error', JSON.stringify(e));
    }
    for (const r of results) {
      assertClean('inspected result', show(r));
      assertClean('JSON of result', JSON.stringify(r));
    }
    assertClean('inspect(client)', show(client));
    assertClean('events', show(events));
    assertClean('audit (memory)', JSON.stringify(tv2.vault.audit));
    assertClean('vault log', vaultLog.join('\n'));
  } finally {
    await client.close();
    await tv2.close();
    await upstream.close();
  }
});

test('the audit log file holds one JSON line per call and never the secret', async () => {
  const { mkdtemp, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const dir = await mkdtemp(join(tmpdir(), 'sanctum-audit-'));
  const file = join(dir, 'audit.jsonl');
  const tv = await startTestVault({ credentials: { good: CANARY }, auditLog: file });
  const { client } = makeClient(tv.endpoint, { seed: tv.seed, agent: tv.agent });
  try {
    client.start();
    await client.whenReady(5000);
    await client.useHttpHeader('good', { headerType: 'bearer' });
    await client.retrieve('good');
    await client.useHttpHeader('missing', { headerType: 'bearer' }).catch(() => undefined);
  } finally {
    await client.close();
    await tv.close();
  }
  const text = await readFile(file, 'utf8');
  await rm(dir, { recursive: true, force: true });
  assertClean('audit file', text);
  const lines = text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(Object.keys(lines[0]!), ['ts', 'agent', 'method', 'path', 'operation', 'allowed', 'reason']);
  assert.deepEqual(
    lines.map((l) => [l.method, l.path, l.operation, l.allowed]),
    [
      ['authenticate', null, null, true],
      ['challenge_response', null, null, true],
      ['use', 'good', 'http_header', true],
      ['retrieve', 'good', null, true],
      ['use', 'missing', 'http_header', false],
      ['release_lease', 'good', null, true],
    ],
  );
});

test('a hostile vault: protocol errors about secret-bearing frames do not quote them', async () => {
  let n = 0;
  const server = await startScriptedServer((req, reply, socket) => {
    n++;
    if (n === 1) return reply({ result: { header_name: 'X', header_value: `${CANARY}\r\nEvil: 1` } });
    if (n === 2) return reply({ result: { header: CANARY } });
    if (n === 3) return reply({ result: { value: CANARY, lease_id: 'l' } });
    const body = Buffer.from(`{"id":${req.id},"result":{"header_value":"${CANARY}"`);
    const h = Buffer.alloc(4);
    h.writeUInt32BE(body.length, 0);
    socket.write(Buffer.concat([h, body]));
  });
  const { client, events } = makeClient(server.endpoint);
  try {
    client.start();
    await client.whenReady(5000);
    const errs: unknown[] = [];
    for (const p of [
      client.useHttpHeader('a', { headerType: 'bearer' }),
      client.useHttpHeader('b', { headerType: 'bearer' }),
      client.retrieve('c'),
      client.useHttpHeader('d', { headerType: 'bearer' }),
    ]) {
      await p.then(() => assert.fail('expected a failure'), (e: unknown) => void errs.push(e));
    }
    assert.equal(errs.length, 4);
    for (const e of errs) assertClean('protocol error', show(e));
    assertClean('events', show(events));
    assertClean('inspect(client)', show(client));
  } finally {
    await client.close();
    await server.close();
  }
});
