// A vault that breaks the protocol: each case gives a clear typed error, no crash, and (where the stream is
// out of step) a destroyed socket followed by a reconnect.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeFrame } from '../../../src/vault/framing.js';
import { VaultProtocolError, VaultUnavailableError } from '../../../src/vault/errors.js';
import { caught, makeClient, startScriptedServer, untilStatus, type Reply, type ScriptedServer } from './support.js';
import type { Socket } from 'node:net';

type Behaviour = (req: { id: number }, socket: Socket, reply: Reply) => void;

async function withServer(behaviour: Behaviour, fn: (s: ScriptedServer, c: ReturnType<typeof makeClient>) => Promise<void>): Promise<void> {
  let current = behaviour;
  const server = await startScriptedServer((req, reply, socket) => {
    const b = current;
    current = (r, _s, rep) => rep({ result: { header_name: 'X', header_value: `ok-${r.id}` } }); // well-behaved afterwards
    b(req, socket, reply);
  });
  const c = makeClient(server.endpoint, { callTimeoutMs: 5000 });
  try {
    c.client.start();
    await c.client.whenReady(5000);
    await fn(server, c);
  } finally {
    await c.client.close();
    await server.close();
  }
}

function header(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n, 0);
  return b;
}

test('a 2 GiB length prefix: pending calls get VaultProtocolError, the socket is destroyed, the client reconnects', async () => {
  await withServer(
    (_req, socket) => socket.write(header(0x80000000)),
    async (server, { client, events }) => {
      const e = await caught(client.useHttpHeader('a', { headerType: 'bearer' }));
      assert.ok(e instanceof VaultProtocolError, String(e));
      assert.match((e as Error).message, /2147483648 bytes exceeds/);
      assert.ok(events.some((ev) => ev.type === 'protocol'));
      await untilStatus(client, 'ready');
      assert.equal((await client.useHttpHeader('b', { headerType: 'bearer' })).headerValue.reveal().startsWith('ok-'), true);
      assert.equal(server.handshakes, 2);
    },
  );
});

test('invalid JSON: VaultProtocolError without the bytes, reconnect', async () => {
  await withServer(
    (_req, socket) => {
      const body = Buffer.from('{"id":1,"result":{"header_value":"sk-SECRET"');
      socket.write(Buffer.concat([header(body.length), body]));
    },
    async (server, { client }) => {
      const e = await caught(client.useHttpHeader('a', { headerType: 'bearer' }));
      assert.ok(e instanceof VaultProtocolError, String(e));
      assert.ok(!(e as Error).message.includes('SECRET'));
      await untilStatus(client, 'ready');
      await client.useHttpHeader('b', { headerType: 'bearer' });
      assert.equal(server.handshakes, 2);
    },
  );
});

test('an unknown id is reported and ignored; the real answer still arrives', async () => {
  await withServer(
    (req, socket) => {
      socket.write(encodeFrame({ id: 999_999, result: { header_name: 'X', header_value: 'stray' } }));
      socket.write(encodeFrame({ id: req.id, result: { header_name: 'X', header_value: 'right' } }));
    },
    async (server, { client, events }) => {
      assert.equal((await client.useHttpHeader('a', { headerType: 'bearer' })).headerValue.reveal(), 'right');
      assert.ok(events.some((e) => e.type === 'protocol' && /unknown id 999999/.test(e.message)));
      assert.equal(server.handshakes, 1, 'the connection was kept');
    },
  );
});

test('neither result nor error: that call rejects with VaultProtocolError, the connection stays', async () => {
  await withServer(
    (req, socket) => socket.write(encodeFrame({ id: req.id })),
    async (server, { client, events }) => {
      const e = await caught(client.useHttpHeader('a', { headerType: 'bearer' }));
      assert.ok(e instanceof VaultProtocolError, String(e));
      assert.match((e as Error).message, /neither result nor error/);
      assert.ok(events.some((ev) => ev.type === 'protocol'));
      await client.useHttpHeader('b', { headerType: 'bearer' });
      assert.equal(server.handshakes, 1);
    },
  );
});

test('a connection closed mid-frame: VaultUnavailableError saying so, reconnect', async () => {
  await withServer(
    (_req, socket) => {
      socket.write(Buffer.concat([header(100), Buffer.from('{"id":1,')]));
      setImmediate(() => socket.destroy());
    },
    async (server, { client }) => {
      const e = await caught(client.useHttpHeader('a', { headerType: 'bearer' }));
      assert.ok(e instanceof VaultUnavailableError, String(e));
      assert.match((e as Error).message, /mid-frame/);
      await untilStatus(client, 'ready');
      await client.useHttpHeader('b', { headerType: 'bearer' });
      assert.equal(server.handshakes, 2);
    },
  );
});

test('a malformed handshake answer fails the attempt with the reason; the next attempt succeeds', async () => {
  let attempts = 0;
  const server = await startScriptedServer(
    (req, reply) => {
      if (req.method === 'authenticate') {
        attempts++;
        if (attempts === 1) return reply({ result: { challenge: 'zz' } });
        return reply({ result: { session_id: 'good', challenge: '00'.repeat(32) } });
      }
      if (req.method === 'challenge_response') return reply({ result: { authenticated: true } });
      reply({ result: { header_name: 'X', header_value: 'fine' } });
    },
    { manualAuth: true },
  );
  const states: string[] = [];
  const { client } = makeClient(server.endpoint, { onEvent: (e) => void (e.type === 'state' && states.push(`${e.state.status}${e.state.reason ? ` ${e.state.reason}` : ''}`)) });
  try {
    client.start();
    await untilStatus(client, 'ready');
    assert.ok(states.some((s) => /^failed PROTOCOL_ERROR: .*session_id/.test(s)), states.join('\n'));
    assert.equal((await client.useHttpHeader('a', { headerType: 'bearer' })).headerValue.reveal(), 'fine');
  } finally {
    await client.close();
    await server.close();
  }
});

test('authenticated: false is AUTH_FAILED', async () => {
  const server = await startScriptedServer(
    (req, reply) => {
      if (req.method === 'authenticate') return reply({ result: { session_id: 's', challenge: '01'.repeat(32) } });
      reply({ result: { authenticated: false } });
    },
    { manualAuth: true },
  );
  const { client } = makeClient(server.endpoint, { backoff: { initialMs: 5000, maxMs: 5000 } });
  try {
    client.start();
    await untilStatus(client, 'failed');
    assert.match(client.state.reason ?? '', /^AUTH_FAILED: /);
  } finally {
    await client.close();
    await server.close();
  }
});
