// The CONNECT handshake against scripted proxies on loopback: what is sent, how each
// answer maps to the catalogue (naming the proxy hop), bytes after a 2xx head kept for
// the tunnel, and the proxy credential never in an error.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { inspect } from 'node:util';
import { Secret } from '../../../src/credentials/secret.js';
import { ProxyHopFailure, proxyConnect, proxyHopError } from '../../../src/egress/proxy-connect.js';

const servers: Server[] = [];
after(() => Promise.all(servers.map((s) => new Promise((r) => s.close(r)))));

/** A proxy that records the request head and answers with `answer` (or says nothing). */
async function scripted(answer: string | null): Promise<{ port: number; heads: string[] }> {
  const heads: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    let buf = '';
    s.on('error', () => undefined);
    s.on('data', (c: Buffer) => {
      buf += c.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      heads.push(buf.slice(0, end + 4));
      buf = buf.slice(end + 4);
      if (answer !== null) s.write(answer);
    });
  });
  server.unref();
  servers.push(server);
  server.on('close', () => sockets.forEach((s) => s.destroy()));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, heads };
}

const CRED = new Secret('Basic Y29ycDpodW50ZXIy');

async function failure(p: Promise<unknown>): Promise<ProxyHopFailure> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ProxyHopFailure, String(err));
    return err;
  }
  assert.fail('expected a ProxyHopFailure');
}

test('2xx: the tunnel socket, with bytes that followed the head kept for the caller', async () => {
  const p = await scripted('HTTP/1.1 200 Connection established\r\nVia: corp\r\n\r\nEARLY');
  const socket = await proxyConnect({ proxyHost: '127.0.0.1', proxyPort: p.port, authority: 'api.test:443', authorization: CRED, timeoutMs: 2000 });
  assert.equal(p.heads[0], 'CONNECT api.test:443 HTTP/1.1\r\nHost: api.test:443\r\nProxy-Authorization: Basic Y29ycDpodW50ZXIy\r\n\r\n');
  const first = new Promise<Buffer>((r) => socket.once('data', r));
  socket.resume(); // handed over paused: the caller's TLS or splice starts the flow
  assert.equal((await first).toString(), 'EARLY');
  socket.destroy();
});

test('without a credential no Proxy-Authorization is sent; IPv6 authorities stay bracketed', async () => {
  const p = await scripted('HTTP/1.0 200 OK\r\n\r\n');
  const socket = await proxyConnect({ proxyHost: '127.0.0.1', proxyPort: p.port, authority: '[2001:db8::1]:8443', authorization: undefined, timeoutMs: 2000 });
  socket.destroy();
  assert.equal(p.heads[0], 'CONNECT [2001:db8::1]:8443 HTTP/1.1\r\nHost: [2001:db8::1]:8443\r\n\r\n');
});

test('each answer maps to the catalogue code that names the proxy hop', async () => {
  const cases: Array<[string, string, string, RegExp]> = [
    ['HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="corp"\r\n\r\n', 'auth_required', 'UPSTREAM_PROXY_AUTH', /refused the sidecar's proxy credentials/],
    ['HTTP/1.1 403 Forbidden\r\n\r\n', 'refused', 'UPSTREAM_PROXY_REFUSED', /refused to connect to this destination/],
    ['HTTP/1.1 503 Service Unavailable\r\n\r\n', 'error', 'UPSTREAM_PROXY_ERROR', /answered 503/],
    ['HTTP/1.1 302 Found\r\nLocation: http://login.corp/\r\n\r\n', 'error', 'UPSTREAM_PROXY_ERROR', /answered 302/],
    ['SSH-2.0-OpenSSH\r\n\r\n', 'error', 'UPSTREAM_PROXY_ERROR', /failed or answered with an error/],
  ];
  for (const [answer, result, code, message] of cases) {
    const p = await scripted(answer);
    const f = await failure(proxyConnect({ proxyHost: '127.0.0.1', proxyPort: p.port, authority: 'api.test:443', authorization: CRED, timeoutMs: 2000 }));
    assert.equal(f.result, result, answer);
    const e = proxyHopError(f);
    assert.equal(e.code, code);
    assert.equal(e.status, 502);
    assert.match(e.message, message);
    assert.ok(!`${e.message} ${inspect(e)}`.includes('Y29ycDpodW50ZXIy'), 'the credential is never in the error');
  }
});

test('unreachable, silent and hanging-up proxies', async () => {
  const gone = await scripted(null);
  await new Promise((r) => servers.pop()!.close(r));
  const unreachable = await failure(proxyConnect({ proxyHost: '127.0.0.1', proxyPort: gone.port, authority: 'a.test:443', authorization: undefined, timeoutMs: 2000 }));
  assert.equal(unreachable.result, 'unreachable');
  assert.equal(proxyHopError(unreachable).code, 'UPSTREAM_PROXY_UNREACHABLE');

  const silent = await scripted(null);
  const slow = await failure(proxyConnect({ proxyHost: '127.0.0.1', proxyPort: silent.port, authority: 'a.test:443', authorization: undefined, timeoutMs: 200 }));
  assert.equal(slow.result, 'error');
  assert.match(slow.message, /no answer to CONNECT in time/);

  const hangup = await scripted('HTTP/1.1 200');
  const cut = await failure(proxyConnect({ proxyHost: '127.0.0.1', proxyPort: hangup.port, authority: 'a.test:443', authorization: undefined, timeoutMs: 300 }));
  assert.equal(cut.result, 'error');
});

test('an oversized answer head is refused', async () => {
  const p = await scripted(`HTTP/1.1 200 OK\r\nX: ${'a'.repeat(20_000)}`);
  const f = await failure(proxyConnect({ proxyHost: '127.0.0.1', proxyPort: p.port, authority: 'a.test:443', authorization: undefined, timeoutMs: 2000 }));
  assert.match(f.message, /answer head too large/);
});

test('a credential with a line break is never sent (it would split the request)', async () => {
  const p = await scripted('HTTP/1.1 200 OK\r\n\r\n');
  const f = await failure(
    proxyConnect({ proxyHost: '127.0.0.1', proxyPort: p.port, authority: 'a.test:443', authorization: new Secret('Basic x\r\nX-Injected: 1'), timeoutMs: 2000 }),
  );
  assert.equal(f.result, 'error');
  assert.deepEqual(p.heads, []);
});
