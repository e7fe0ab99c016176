// `sanctum-sidecar dev-vault`: runs from a file until stopped, then exits 0; usage and file errors exit 2.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, test } from 'node:test';
import { runDevVaultCommand } from '../../../src/cli/dev-vault.js';
import { bytesToHex } from '../../../src/vault/hex.js';
import { publicKeyFromSeed } from '../../../src/vault/keys.js';
import { makeClient, untilStatus } from './support.js';

let dir: string;
const seed = new Uint8Array(randomBytes(32));

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sanctum-dvcli-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (d) => (text += d));
  return { stream, text: () => text };
}

test('serves a file on a Unix socket with an audit log, prints the banner, stops on signal with 0', async () => {
  const file = join(dir, 'dev-vault.yaml');
  const socket = join(dir, 'v.sock');
  const audit = join(dir, 'audit.jsonl');
  await writeFile(
    file,
    `agents:\n  cli-agent: { public_key: ${bytesToHex(publicKeyFromSeed(seed))} }\ncredentials:\n  k: { env: CLI_TEST_TOKEN }\npolicies:\n  - { principal: "agent:*", resources: ["*"], actions: [use] }\n`,
  );
  const err = capture();
  const stop = new AbortController();
  const running = runDevVaultCommand(['--file', file, '--socket', socket, '--audit-log', audit], {
    stderr: err.stream,
    env: { CLI_TEST_TOKEN: 'tok-from-env' },
    signal: stop.signal,
  });
  while (!err.text().includes('Listening on')) await new Promise((r) => setTimeout(r, 5));
  assert.match(err.text(), /DEVELOPMENT ONLY/);
  const { client } = makeClient({ socket }, { seed, agent: 'cli-agent' });
  client.start();
  await untilStatus(client, 'ready');
  assert.equal((await client.useHttpHeader('k', { headerType: 'api_key' })).headerValue.reveal(), 'tok-from-env');
  await client.close();
  stop.abort();
  assert.equal(await running, 0);
  const lines = (await readFile(audit, 'utf8')).trim().split('\n');
  assert.equal(lines.length, 3);
  assert.ok(!lines.join('\n').includes('tok-from-env'));
});

test('usage and file errors exit 2 with a message', async () => {
  const bad = join(dir, 'bad.yaml');
  await writeFile(bad, 'policies:\n  - { principal: nope, resources: [], actions: [] }\n');
  for (const [args, pattern] of [
    [['--bogus'], /unknown option '--bogus'/],
    [['--listen', 'nowhere', '--file', bad], /--listen must be HOST:PORT/],
    [['--listen', '127.0.0.1:0', '--socket', 'x'], /not both/],
    [['--file', join(dir, 'missing.yaml')], /cannot find .*missing\.yaml/],
    [['--file', bad, '--listen', '127.0.0.1:0'], /bad\.yaml:2 at policies\.0\.principal/],
  ] as const) {
    const err = capture();
    assert.equal(await runDevVaultCommand([...args], { stderr: err.stream }), 2, args.join(' '));
    assert.match(err.text(), pattern);
  }
});
