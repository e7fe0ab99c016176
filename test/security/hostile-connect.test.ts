/**
 * Hostile inputs, part 3: CONNECT (issue 8, SECURITY I1, I2, I8). The authority of a
 * CONNECT is a target like any other (strict grammar, no port / port 0 / huge port:
 * 400); tunnels never reach the sidecar's own listeners or the vault (403); HTTP
 * inside a tunnel goes through the same pipeline, may not CONNECT again, and its Host
 * must agree with the tunnel's authority. Routed hosts carry plain HTTP on port 80 in
 * these tests (no interception CA is configured, so TLS to them is refused).
 */
import assert from 'node:assert/strict';
import { registerHostileSuite, req, type HostileCase } from './hostile-harness.js';
import type { Step } from '../helpers/wire.js';

const BAD_TARGET = [{ status: 400, code: 'BAD_TARGET' }] as const;
const TUNNEL_OPEN = { status: 200, code: null } as const;

function connect(authority: string, host = authority): string {
  return req(`CONNECT ${authority} HTTP/1.1`, `Host: ${host}`);
}

/** Open a tunnel, wait for its 200, then send `inner` through it. */
function tunnel(authority: string, ...inner: Step[]): Step[] {
  return [connect(authority), { until: (c) => c.responses >= 1 || c.raw.includes('\r\n\r\n'), timeoutMs: 3000 }, ...inner];
}

const TUNNEL_OPTS = { noBody: [0], drain: true, quietMs: 250 } as const;

const cases: HostileCase[] = [
  { id: 'CONN-01', attack: 'CONNECT without a port', steps: () => [connect('api.openai.com')], answers: BAD_TARGET },
  { id: 'CONN-02', attack: 'CONNECT to port 0', steps: () => [connect('api.openai.com:0')], answers: BAD_TARGET },
  { id: 'CONN-03', attack: 'CONNECT to port 65536', steps: () => [connect('api.openai.com:65536')], answers: BAD_TARGET },
  { id: 'CONN-04', attack: 'CONNECT to a port that wraps modulo 2^32 to 80 (4294967376)', steps: () => [connect('api.openai.com:4294967376')], answers: BAD_TARGET },
  {
    id: 'CONN-05',
    attack: "CONNECT to the sidecar's admin port on an allow-listed address",
    steps: (e) => [connect(`127.0.0.1:${e.adminPort}`)],
    answers: [{ status: 403, code: 'ADDRESS_BLOCKED' }],
  },
  {
    id: 'CONN-06',
    attack: "CONNECT to the vault's TCP port",
    steps: (e) => [connect(`127.0.0.1:${e.vaultPort}`)],
    answers: [{ status: 403, code: 'ADDRESS_BLOCKED' }],
  },
  {
    id: 'CONN-07',
    attack: "CONNECT to the sidecar's own proxy port (tunnel loop)",
    steps: (e) => [connect(`127.0.0.1:${e.proxyPort}`)],
    answers: [{ status: 403, code: 'ADDRESS_BLOCKED' }],
  },
  {
    id: 'CONN-08',
    attack: 'CONNECT inside a CONNECT tunnel',
    steps: () => tunnel('api.openai.com:80', connect('api.anthropic.com:80')),
    opts: TUNNEL_OPTS,
    answers: [TUNNEL_OPEN, { status: [400, 403, 405] }],
  },
  {
    id: 'CONN-09',
    attack: "inner Host names another credential route's host than the CONNECT target",
    steps: () => tunnel('api.openai.com:80', req('GET /v1/models HTTP/1.1', 'Host: api.anthropic.com')),
    opts: TUNNEL_OPTS,
    answers: [TUNNEL_OPEN, { status: 400, code: 'HOST_MISMATCH' }],
  },
  {
    id: 'CONN-10',
    attack: 'inner absolute-form naming another host than the CONNECT target',
    steps: () => tunnel('api.openai.com:80', req('GET http://api.anthropic.com/v1/models HTTP/1.1', 'Host: api.anthropic.com')),
    opts: TUNNEL_OPTS,
    answers: [TUNNEL_OPEN, { status: 400, code: 'HOST_MISMATCH' }],
  },
  {
    id: 'CONN-11',
    attack: 'inner Host with another port than the tunnel',
    steps: () => tunnel('api.openai.com:80', req('GET /v1/models HTTP/1.1', 'Host: api.openai.com:8080')),
    opts: TUNNEL_OPTS,
    answers: [TUNNEL_OPEN, { status: 400, code: 'HOST_MISMATCH' }],
  },
  {
    id: 'CONN-12',
    attack: 'inner request without Host',
    steps: () => tunnel('api.openai.com:80', 'GET /v1/models HTTP/1.0\r\n\r\n'),
    opts: TUNNEL_OPTS,
    answers: [TUNNEL_OPEN, { status: 400 }],
  },
  { id: 'CONN-13', attack: 'userinfo in the CONNECT authority', steps: () => [connect('user@api.openai.com:80', 'api.openai.com:80')], answers: BAD_TARGET },
  { id: 'CONN-14', attack: 'CONNECT to an unlisted host', steps: () => [connect('evil.test:443')], answers: [{ status: 403, code: 'NO_ROUTE' }] },
  { id: 'CONN-15', attack: 'CONNECT to a decimal IPv4 spelling of the allow-listed address', steps: (e) => [connect(`2130706433:${e.sentinelPort}`)], answers: BAD_TARGET },
  { id: 'CONN-16', attack: 'CONNECT with an absolute URL as its target', steps: () => [connect('http://api.openai.com:80/', 'api.openai.com:80')], answers: [{ status: 400 }] },
  {
    id: 'CONN-17',
    attack: 'TLS to a credential host without an interception CA is refused, never tunnelled blind',
    steps: () => [connect('api.openai.com:443')],
    answers: [{ status: 403, code: 'INTERCEPT_DISABLED' }],
  },
  {
    id: 'CONN-18',
    attack: 'plain HTTP in a tunnel to a routed host: its own credential, its own upstream (control)',
    steps: () => tunnel('api.openai.com:80', req('GET /v1/conn18 HTTP/1.1', 'Host: api.openai.com')),
    opts: TUNNEL_OPTS,
    answers: [TUNNEL_OPEN, { status: 200, upstream: 'openai' }],
  },
  {
    id: 'CONN-19',
    attack: 'two pipelined requests in one tunnel, the second with a placeholder Authorization',
    steps: () => tunnel('api.anthropic.com:80', req('GET /conn19a HTTP/1.1', 'Host: api.anthropic.com') + req('GET /conn19b HTTP/1.1', 'Host: api.anthropic.com', 'Authorization: Bearer sk-sanctum-placeholder')),
    opts: TUNNEL_OPTS,
    answers: [TUNNEL_OPEN, { status: 200, upstream: 'anthropic' }, { status: 200, upstream: 'anthropic' }],
  },
  {
    id: 'CONN-20',
    attack: 'byte tunnel to an allow-listed host carries the bytes untouched and no credential',
    steps: (e) => tunnel(`127.0.0.1:${e.sentinelPort}`, req('GET /conn20 HTTP/1.1', `Host: 127.0.0.1:${e.sentinelPort}`, 'Connection: close')),
    opts: TUNNEL_OPTS,
    answers: [TUNNEL_OPEN, { status: 200, upstream: 'sentinel' }],
  },
  {
    id: 'CONN-21',
    attack: 'encoded dot-segments inside a tunnel',
    steps: () => tunnel('api.openai.com:80', req('GET /v1/%2e%2e/admin HTTP/1.1', 'Host: api.openai.com')),
    opts: TUNNEL_OPTS,
    answers: [TUNNEL_OPEN, { status: 400, code: 'BAD_TARGET' }],
  },
  {
    id: 'CONN-22',
    attack: 'TRACE inside a tunnel',
    steps: () => tunnel('api.openai.com:80', req('TRACE /v1/models HTTP/1.1', 'Host: api.openai.com')),
    opts: TUNNEL_OPTS,
    answers: [TUNNEL_OPEN, { status: 403, code: 'METHOD_DENIED' }],
  },
  {
    id: 'CONN-23',
    attack: 'CL+TE smuggling inside a tunnel, with a request for another host behind it',
    steps: () =>
      tunnel('api.openai.com:80', req('POST /v1/chat HTTP/1.1', 'Host: api.openai.com', 'Content-Length: 4', 'Transfer-Encoding: chunked') + '0\r\n\r\n' + req('GET /v1/x HTTP/1.1', 'Host: api.anthropic.com')),
    opts: TUNNEL_OPTS,
    answers: [TUNNEL_OPEN, { status: 400, code: 'BAD_REQUEST' }],
  },
  {
    id: 'CONN-24',
    attack: 'neither HTTP nor TLS inside a tunnel to a routed host',
    steps: () => tunnel('api.openai.com:80', Buffer.from([0x00, 0x01, 0x02, 0x03, 0x0d, 0x0a, 0x0d, 0x0a])),
    opts: TUNNEL_OPTS,
    answers: [TUNNEL_OPEN],
    mustClose: true,
  },
  {
    id: 'CONN-25',
    attack: 'the inner request sent in the same packet as the CONNECT (head bytes)',
    steps: () => [connect('api.openai.com:80') + req('GET /v1/conn25 HTTP/1.1', 'Host: api.openai.com')],
    opts: TUNNEL_OPTS,
    answers: [TUNNEL_OPEN, { status: 200, upstream: 'openai' }],
  },
  {
    id: 'CONN-26',
    attack: 'a CONNECT Host header naming a different host does not change the tunnel target',
    steps: () => [connect('api.openai.com:80', 'api.anthropic.com:80'), { until: (c) => c.raw.includes('\r\n\r\n'), timeoutMs: 3000 }, req('GET /v1/conn26 HTTP/1.1', 'Host: api.openai.com')],
    opts: TUNNEL_OPTS,
    answers: [TUNNEL_OPEN, { status: 200, upstream: 'openai' }],
    check: ({ received }) => assert.equal(received.anthropic.length, 0),
  },
];

registerHostileSuite(cases);
