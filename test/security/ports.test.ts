/**
 * Ports are part of the route. A route accepts the default port of the request's
 * scheme (80 for http://, 443 for https:// and CONNECT) unless `match.port(s)` lists
 * others; any other port is 403 NO_ROUTE with nothing dialled, in absolute-form,
 * host-header form and CONNECT alike. `egress.allow` entries without a port admit 80
 * for plain HTTP and 443 for tunnels; with one, exactly that port. Counting listeners
 * and capture upstreams prove that a refused request dials nothing.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRig, type Rig } from '../helpers/sidecar-rig.js';
import { rawRequest } from '../helpers/raw.js';
import { countingListener, openTunnel, readAll } from '../integration/connect/helpers.js';

type Counter = Awaited<ReturnType<typeof countingListener>>;
let rig: Rig;
/** Allow-listed as `localhost` (no port): must never be dialled on its own port. */
let unlisted: Counter;
/** Allow-listed as `localhost:<its port>`: the one tunnel that may reach it. */
let listed: Counter;

before(async () => {
  unlisted = await countingListener();
  listed = await countingListener();
  rig = await startRig({
    upstreams: ['api', 'alt'],
    credentials: { 'api/key': 'sk-ports-SECRET-0001' },
    routes: (u) => `
egress:
  block_private_addresses: false
  host_header_form: true
  allow: [localhost, "localhost:${listed.port}"]
routes:
  - { name: api, match: { host: api.test }, upstream: "${u.api!.origin}", allow_plaintext: true, credential: api/key }
  - { name: alt, match: { host: alt.test, ports: [8443, 9000] }, upstream: "${u.alt!.origin}", allow_plaintext: true }
  - { name: loop, match: { host: 127.0.0.1 }, upstream: "http://127.0.0.1:${unlisted.port}", allow_plaintext: true }
`,
  });
});
after(async () => {
  await rig.close();
  await unlisted.close();
  await listed.close();
});

async function get(target: string, host: string): Promise<{ status: number; code: string | undefined }> {
  const r = await rawRequest(rig.proxyPort, `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`, 2000);
  return { status: r.status, code: r.headers['x-sanctum-error'] };
}

function upstreamCounts(): number[] {
  return [...rig.all.map((u) => u.connections()), unlisted.count(), listed.count()];
}

async function refusedNothingDialled(what: string, send: () => Promise<{ status: number; code: string | undefined }>): Promise<void> {
  const before = upstreamCounts();
  const r = await send();
  assert.deepEqual([r.status, r.code], [403, 'NO_ROUTE'], what);
  assert.deepEqual(upstreamCounts(), before, `${what}: nothing was dialled`);
}

test('absolute-form: the default port is routed; any other port is 403 NO_ROUTE and nothing is dialled', async () => {
  assert.equal((await get('http://api.test/v1/x', 'api.test')).status, 200);
  assert.equal((await get('http://api.test:80/v1/x', 'api.test:80')).status, 200, 'an explicit default port is the default port');
  for (const port of [8080, 443, 22, 6379]) {
    await refusedNothingDialled(`http://api.test:${port}`, () => get(`http://api.test:${port}/v1/x`, `api.test:${port}`));
  }
  // The route's upstream is the counting listener: asking for its port by name does not reach it.
  await refusedNothingDialled('the upstream port asked for directly', () => get(`http://127.0.0.1:${unlisted.port}/`, `127.0.0.1:${unlisted.port}`));
  const line = rig.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'request').at(-1)!;
  assert.equal(line.code, 'NO_ROUTE');
});

test('match.ports: exactly the listed ports, for either scheme; the default is then not accepted', async () => {
  assert.equal((await get('http://alt.test:8443/x', 'alt.test:8443')).status, 200);
  assert.equal((await get('http://alt.test:9000/x', 'alt.test:9000')).status, 200);
  await refusedNothingDialled('alt.test on 80', () => get('http://alt.test/x', 'alt.test'));
  await refusedNothingDialled('alt.test on 8444', () => get('http://alt.test:8444/x', 'alt.test:8444'));
});

test('host-header form: a Host with a port the route does not accept is 403 NO_ROUTE', async () => {
  assert.equal((await get('/v1/x', 'api.test')).status, 200);
  await refusedNothingDialled('Host: api.test:8080', () => get('/v1/x', 'api.test:8080'));
  await refusedNothingDialled('Host: api.test:443', () => get('/v1/x', 'api.test:443'));
});

async function connect(authority: string): Promise<{ status: number; code: string | undefined }> {
  const t = await openTunnel(rig.proxyPort, authority);
  const rest = t.status === 200 ? '' : await readAll(t.socket, 300);
  t.socket.destroy();
  return { status: t.status, code: /x-sanctum-error: ([A-Z_]+)/i.exec(`${t.head}\r\n${rest}`)?.[1] };
}

test('CONNECT: a routed host on a port no route accepts is 403 NO_ROUTE, nothing dialled', async () => {
  assert.equal((await connect('api.test:80')).status, 200, 'port 80: plain HTTP inside');
  assert.deepEqual(await connect('api.test:443'), { status: 403, code: 'INTERCEPT_DISABLED' }, 'port 443 is accepted (TLS needs a CA here)');
  await refusedNothingDialled('CONNECT api.test:8443', () => connect('api.test:8443'));
  await refusedNothingDialled('CONNECT 127.0.0.1:<upstream port>', () => connect(`127.0.0.1:${unlisted.port}`));
  assert.equal((await connect('alt.test:9000')).status, 200, 'a listed port');
  await refusedNothingDialled('CONNECT alt.test:443', () => connect('alt.test:443'));
});

test('egress.allow: without a port, a byte tunnel may go to 443 only; with one, exactly that port', async () => {
  await refusedNothingDialled('CONNECT localhost:<unlisted port>', () => connect(`localhost:${unlisted.port}`));
  await refusedNothingDialled('plain HTTP to localhost:<unlisted port>', () => get(`http://localhost:${unlisted.port}/`, `localhost:${unlisted.port}`));
  const before = listed.count();
  assert.equal((await connect(`localhost:${listed.port}`)).status, 200);
  for (let i = 0; i < 100 && listed.count() === before; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(listed.count(), before + 1, 'the listed port was dialled');
});
