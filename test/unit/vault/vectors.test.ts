// Every test vector on vault-protocol.md, reproduced by our own code on both sides.
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildHeader, sign } from '../../../src/devvault/operations.js';
import { encodeFrame, FrameDecoder } from '../../../src/vault/framing.js';
import { bytesToHex, hexToBytes } from '../../../src/vault/hex.js';
import { encryptSeed, loadKeyFile, publicKeyFromSeed, signChallenge } from '../../../src/vault/keys.js';
import { verifyChallenge } from '../../../src/vault/ed25519.js';
import { parseHttpHeader, parseRetrieve } from '../../../src/vault/messages.js';

const SEED = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60';
const PUBLIC = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a';
const CHALLENGE = '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f';
const SIGNATURE =
  '00c1db988bb12fd7351a6054ae3fac90fab7e4fc56b1651c7181f5f55f896f663933d3a90605d9058e9d0ac45950ee2d3c9c9b14857415587179fe0ccac35f09';
const ENC_FILE =
  '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20212223242526279093293ac2c687184c8532e27f05df0ef0ebb03fcd9585034a5bb46693db8e4568fc04152922cb76325c220a14ded8d3';
const PASSPHRASE = 'correct horse battery staple';

test('frame: the 69-byte authenticate request has prefix 00000045', () => {
  const msg = { id: 1, method: 'authenticate', params: { agent_name: 'test-agent' } };
  const frame = encodeFrame(msg);
  assert.equal(frame.subarray(0, 4).toString('hex'), '00000045');
  assert.equal(frame.length, 4 + 69);
  assert.deepEqual(new FrameDecoder().push(frame), [msg]);
});

test('Ed25519: RFC 8032 test 1 seed gives the published public key', () => {
  assert.equal(bytesToHex(publicKeyFromSeed(hexToBytes(SEED)!)), PUBLIC);
});

test('Ed25519: signature over the 32 decoded challenge bytes, and the dev vault verifies it', () => {
  assert.equal(signChallenge(hexToBytes(SEED)!, CHALLENGE), SIGNATURE);
  assert.ok(verifyChallenge(hexToBytes(PUBLIC)!, CHALLENGE, SIGNATURE));
  const flipped = SIGNATURE.slice(0, -1) + (SIGNATURE.endsWith('9') ? '8' : '9');
  assert.equal(verifyChallenge(hexToBytes(PUBLIC)!, CHALLENGE, flipped), false);
});

test('encrypted key file: our encryption matches byte for byte, and loadKeyFile opens it', async () => {
  const content = encryptSeed(hexToBytes(SEED)!, PASSPHRASE, hexToBytes('000102030405060708090a0b0c0d0e0f')!, hexToBytes('101112131415161718191a1b1c1d1e1f2021222324252627')!);
  assert.equal(content, ENC_FILE);
  const dir = await mkdtemp(join(tmpdir(), 'sanctum-vec-'));
  try {
    const file = join(dir, 'agent.key.enc');
    await writeFile(file, ENC_FILE + '\n');
    await chmod(file, 0o600);
    assert.equal(bytesToHex(await loadKeyFile(file, { passphrase: PASSPHRASE })), SEED);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('retrieve: sk-test-123 travels as hex 736b2d746573742d313233', () => {
  assert.equal(Buffer.from('sk-test-123', 'utf8').toString('hex'), '736b2d746573742d313233');
  const r = parseRetrieve({ value: '736b2d746573742d313233', lease_id: 'l1' });
  assert.equal(r.value.reveal(), 'sk-test-123');
});

test('sign: hmac-sha256 of payload-to-sign under webhook-secret', () => {
  assert.deepEqual(sign('webhook-secret', { algorithm: 'hmac-sha256', data: 'payload-to-sign' }), {
    signature: 'Ox+9l+U9R30+fW+AenxzSdRbtk47wZRWDSRE1G9dyA8=',
  });
});

test('basic: user:pass becomes Authorization: Basic dXNlcjpwYXNz', () => {
  assert.deepEqual(buildHeader('user:pass', 'p', 'basic', undefined), ['Authorization', 'Basic dXNlcjpwYXNz']);
  const h = parseHttpHeader({ header: 'Authorization: Basic dXNlcjpwYXNz' });
  assert.equal(h.headerName, 'authorization');
  assert.equal(h.headerValue.reveal(), 'Basic dXNlcjpwYXNz');
});
