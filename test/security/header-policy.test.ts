/**
 * Header policy: every forwarding header an agent could forge is stripped (on credential
 * routes, plain routes and passthrough) unless the route keeps them; Set-Cookie from the
 * upstream is dropped on credential routes unless `keep_cookies` (which also governs
 * the agent's Cookie); `headers.set` replaces whatever the agent sent and
 * `headers.remove` drops a header; Accept-Encoding is narrowed to what the response
 * guard can inflate. Raw sockets on the agent side; the reflector records what the
 * upstream received.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, SECRETS, type Stack } from '../helpers/stack.js';
import { startReflector, type Reflector } from '../helpers/reflector.js';
import { rawRequest } from '../helpers/raw.js';

let refl: Reflector;
let s: Stack;

before(async () => {
  refl = await startReflector();
  const up = refl.origin;
  s = await startStack({
    routes: `
egress: { block_private_addresses: false, allow: ["127.0.0.1:${refl.port}"] }
routes:
  - { name: cred, prefix: /cred, upstream: "${up}", allow_plaintext: true, credential: openai/api-key }
  - { name: plain, prefix: /plain, upstream: "${up}" }
  - { name: keeper, prefix: /keeper, upstream: "${up}", allow_plaintext: true, credential: openai/api-key, keep_cookies: true, keep_forwarding_headers: true }
  - name: org
    prefix: /org
    upstream: "${up}"
    allow_plaintext: true
    credential: openai/api-key
    headers:
      set: { OpenAI-Organization: org-pinned, Accept-Encoding: "zstd, gzip" }
      remove: [OpenAI-Project, X-Debug]
`,
  });
});
after(async () => {
  await s.close();
  await refl.close();
});

/** One request on a raw socket: origin-form to a prefix, or absolute-form (then Host names its authority). */
async function send(target: string, headers: string[] = []): Promise<{ status: number; raw: string; seen: Record<string, string | string[] | undefined> }> {
  const n = refl.requests.length;
  const host = target.startsWith('http://') ? new URL(target).host : 'sidecar.test';
  const r = await rawRequest(s.proxyPort, [`GET ${target} HTTP/1.1`, `Host: ${host}`, ...headers, 'Connection: close', '', ''].join('\r\n'), 2000);
  assert.equal(refl.requests.length, n + 1, `${target} reached the upstream`);
  return { status: r.status, raw: r.raw, seen: refl.requests.at(-1)! };
}

const FORGED = [
  ['Forwarded', 'for=10.0.0.1;host=admin.internal;proto=https'],
  ['X-Forwarded-For', '10.0.0.1'],
  ['X-Forwarded-Host', 'admin.internal'],
  ['X-Forwarded-Proto', 'https'],
  ['X-Forwarded-Port', '443'],
  ['X-Forwarded-Prefix', '/admin'],
  ['X-Real-IP', '10.0.0.2'],
  ['X-Client-IP', '10.0.0.3'],
  ['True-Client-IP', '10.0.0.4'],
  ['CF-Connecting-IP', '10.0.0.5'],
  ['Via', '1.1 trusted-gateway'],
] as const;

for (const [name, value] of FORGED) {
  test(`${name} sent by the agent is stripped on credential routes, plain routes and passthrough`, async () => {
    const h = [`${name}: ${value}`, 'X-Kept: yes'];
    for (const target of ['/cred/x', '/plain/x', `http://127.0.0.1:${refl.port}/x`]) {
      const r = await send(target, h);
      assert.equal(r.status, 200, target);
      assert.equal(r.seen[name.toLowerCase()], undefined, `${name} reached the upstream via ${target}`);
      assert.equal(r.seen['x-kept'], 'yes', 'ordinary headers pass');
    }
  });
}

test('keep_forwarding_headers: true forwards them as the agent sent them', async () => {
  const r = await send('/keeper/x', FORGED.map(([n, v]) => `${n}: ${v}`));
  for (const [name, value] of FORGED) assert.equal(r.seen[name.toLowerCase()], value, name);
});

test('Set-Cookie is dropped on a credential route, kept with keep_cookies and on plain routes', async () => {
  const cred = await send('/cred/cookie');
  assert.equal(cred.status, 200);
  assert.doesNotMatch(cred.raw, /set-cookie/i, 'a session minted for the injected key is a derived credential');
  assert.match(cred.raw, /\r\n\r\nok$/);
  const kept = await send('/keeper/cookie');
  assert.match(kept.raw, /set-cookie: session=derived-from-key; HttpOnly\r\n/i);
  assert.match(kept.raw, /set-cookie: other=1\r\n/i);
  const plain = await send('/plain/cookie');
  assert.match(plain.raw, /set-cookie: session=derived-from-key/i);
});

test("keep_cookies governs the agent's Cookie too", async () => {
  assert.equal((await send('/cred/x', ['Cookie: sid=agent'])).seen.cookie, undefined);
  assert.equal((await send('/keeper/x', ['Cookie: sid=agent'])).seen.cookie, 'sid=agent');
});

test('headers.set replaces what the agent sent; headers.remove drops it', async () => {
  const r = await send('/org/x', ['OpenAI-Organization: org-agent-chosen', 'openai-organization: org-second-copy', 'OpenAI-Project: proj-agent', 'X-Debug: 1', 'X-Other: 2']);
  assert.equal(r.seen['openai-organization'], 'org-pinned', 'the route, not the agent, picks the organisation');
  assert.equal(r.seen['openai-project'], undefined);
  assert.equal(r.seen['x-debug'], undefined);
  assert.equal(r.seen['x-other'], '2');
  assert.equal(r.seen.authorization, `Bearer ${SECRETS.openai}`, 'the credential is injected as ever');
  const bare = await send('/org/x');
  assert.equal(bare.seen['openai-organization'], 'org-pinned', 'set even when the agent sent none');
  assert.equal(bare.seen['accept-encoding'], 'gzip', 'a set Accept-Encoding is narrowed like the agent\'s');
});

test('Accept-Encoding is narrowed to codings the response guard can inflate on guarded routes only', async () => {
  const ae = 'Accept-Encoding: zstd, gzip;q=0.8, br, compress, *;q=0.1, identity';
  assert.equal((await send('/cred/x', [ae])).seen['accept-encoding'], 'gzip;q=0.8, br, identity');
  assert.equal((await send('/cred/x', ['Accept-Encoding: zstd'])).seen['accept-encoding'], undefined, 'nothing inflatable left: identity');
  assert.equal((await send('/plain/x', [ae])).seen['accept-encoding'], 'zstd, gzip;q=0.8, br, compress, *;q=0.1, identity', 'no credential, no guard: untouched');
});
