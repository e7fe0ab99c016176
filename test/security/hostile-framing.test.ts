/**
 * Hostile inputs, part 1: message framing and header bytes (issue 8, SECURITY I2, I6,
 * I9). Request smuggling, CR/LF/NUL bytes, size limits, duplicated singleton headers,
 * protocol corners and pipelining, each sent over a raw socket. Every case also gets
 * the harness's after-case checks (nothing upstream on a refusal, one credential per
 * forwarded request and only its route's, nothing secret back to the agent, and the
 * sidecar still serves). Named regressions live in regressions.test.ts; these extend them.
 */
import assert from 'node:assert/strict';
import { registerHostileSuite, req, type HostileCase } from './hostile-harness.js';

const ABS = 'GET http://api.openai.com/v1/models HTTP/1.1';
const HOST = 'Host: api.openai.com';
/** A request smuggled behind a framing error: it must never be parsed as a request of its own. */
const SMUGGLED = req('GET http://api.anthropic.com/smuggled HTTP/1.1', 'Host: api.anthropic.com');
const DRAIN = { drain: true, quietMs: 400 } as const;
const refused400 = [{ status: 400, code: 'BAD_REQUEST' }] as const;

function post(target: string, ...headers: string[]): string {
  return req(`POST ${target} HTTP/1.1`, ...headers);
}

/** Wait until `upstream` has seen the start of a request to `url` whose body has begun. */
function untilUpstreamStarted(up: string, url: string) {
  return (env: { ups: Readonly<Record<string, { requests: ReadonlyArray<{ url: string; bodyBytes: number; complete: boolean; aborted: boolean }> }>> }) => ({
    until: () => env.ups[up]!.requests.some((r) => r.url === url && r.bodyBytes > 0 && !r.complete && !r.aborted),
    timeoutMs: 3000,
  });
}

const MANY_HEADERS = Array.from({ length: 2001 }, () => 'x:').join('\r\n');

const cases: HostileCase[] = [
  // --- Smuggling -----------------------------------------------------------------
  {
    id: 'SMUG-01',
    attack: 'Transfer-Encoding before Content-Length (TE.CL order) with a request smuggled behind the body',
    steps: () => [post('http://api.openai.com/v1/chat', HOST, 'Transfer-Encoding: chunked', 'Content-Length: 4') + '0\r\n\r\n' + SMUGGLED],
    opts: DRAIN,
    answers: refused400,
  },
  {
    id: 'SMUG-02',
    attack: 'obfuscated Transfer-Encoding: xchunked',
    steps: () => [post('http://api.openai.com/v1/chat', HOST, 'Transfer-Encoding: xchunked') + '5\r\nhello\r\n0\r\n\r\n' + SMUGGLED],
    opts: DRAIN,
    answers: refused400,
  },
  {
    id: 'SMUG-03',
    attack: 'obfuscated Transfer-Encoding with a space before the colon ("Transfer-Encoding : chunked")',
    steps: () => [post('http://api.openai.com/v1/chat', HOST, 'Transfer-Encoding : chunked') + '5\r\nhello\r\n0\r\n\r\n' + SMUGGLED],
    opts: DRAIN,
    answers: refused400,
  },
  {
    id: 'SMUG-04',
    attack: 'Transfer-Encoding: chunked, identity (chunked not last)',
    steps: () => [post('http://api.openai.com/v1/chat', HOST, 'Transfer-Encoding: chunked, identity') + '5\r\nhello\r\n0\r\n\r\n' + SMUGGLED],
    opts: DRAIN,
    answers: refused400,
  },
  {
    id: 'SMUG-05',
    attack: 'two Transfer-Encoding: chunked headers (chunked applied twice)',
    steps: () => [post('http://api.openai.com/v1/chat', HOST, 'Transfer-Encoding: chunked', 'Transfer-Encoding: chunked') + '5\r\nhello\r\n0\r\n\r\n' + SMUGGLED],
    opts: DRAIN,
    answers: refused400,
  },
  {
    id: 'SMUG-06',
    attack: 'Transfer-Encoding value with a trailing vertical tab ("chunked\\v")',
    steps: () => [post('http://api.openai.com/v1/chat', HOST, 'Transfer-Encoding: chunked\x0b') + '5\r\nhello\r\n0\r\n\r\n' + SMUGGLED],
    opts: DRAIN,
    answers: refused400,
  },
  {
    id: 'SMUG-07',
    attack: 'Transfer-Encoding: gzip, chunked — a coding the sidecar cannot undo must be refused (RFC 9112 §6.1), not forwarded as identity',
    steps: () => [post('/openai/v1/chat', 'Host: 127.0.0.1', 'Transfer-Encoding: gzip, chunked') + '5\r\nhello\r\n0\r\n\r\n'],
    answers: [{ status: [400, 501] }],
  },
  {
    id: 'SMUG-08',
    attack: 'duplicate Content-Length with identical values',
    steps: () => [post('http://api.openai.com/v1/chat', HOST, 'Content-Length: 4', 'Content-Length: 4') + 'abcd' + SMUGGLED],
    opts: DRAIN,
    answers: refused400,
  },
  {
    id: 'SMUG-09',
    attack: 'Content-Length as a list ("4, 4")',
    steps: () => [post('http://api.openai.com/v1/chat', HOST, 'Content-Length: 4, 4') + 'abcd' + SMUGGLED],
    opts: DRAIN,
    answers: refused400,
  },
  {
    id: 'SMUG-10',
    attack: 'signed Content-Length ("+4")',
    steps: () => [post('http://api.openai.com/v1/chat', HOST, 'Content-Length: +4') + 'abcd' + SMUGGLED],
    opts: DRAIN,
    answers: refused400,
  },
  {
    id: 'SMUG-11',
    attack: 'Content-Length beyond 2^64 (integer overflow)',
    steps: () => [post('http://api.openai.com/v1/chat', HOST, 'Content-Length: 18446744073709551620') + 'abcd' + SMUGGLED],
    opts: DRAIN,
    answers: refused400,
  },
  {
    id: 'SMUG-12',
    attack: 'obs-fold: a header continued on the next line',
    steps: () => [`${ABS}\r\n${HOST}\r\nX-Note: a\r\n b\r\n\r\n` + SMUGGLED],
    opts: DRAIN,
    answers: refused400,
  },
  {
    id: 'SMUG-13',
    attack: 'obs-fold hiding Transfer-Encoding ("Transfer-Encoding:\\r\\n chunked")',
    steps: () => [`POST http://api.openai.com/v1/chat HTTP/1.1\r\n${HOST}\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n` + SMUGGLED],
    opts: DRAIN,
    answers: refused400,
  },
  {
    id: 'SMUG-14',
    attack: 'bare LF line endings throughout the head',
    steps: () => ['GET http://api.openai.com/v1/models HTTP/1.1\nHost: api.openai.com\n\n' + SMUGGLED],
    opts: DRAIN,
    answers: refused400,
  },
  {
    id: 'SMUG-15',
    attack: 'a single bare LF ending one header line',
    steps: () => [`${ABS}\r\n${HOST}\nX-Other: y\r\n\r\n` + SMUGGLED],
    opts: DRAIN,
    answers: refused400,
  },
  {
    id: 'SMUG-16',
    attack: 'chunk-size overflow (ffffffffffffffffff1)',
    steps: () => [post('/openai/v1/smug16', 'Host: 127.0.0.1', 'Transfer-Encoding: chunked') + 'ffffffffffffffffff1\r\nhello\r\n0\r\n\r\n' + SMUGGLED],
    opts: DRAIN,
    answers: refused400,
    abortedOn: 'openai',
  },
  {
    id: 'SMUG-17',
    attack: 'chunk-size that wraps to 5 modulo 2^64 (10000000000000005)',
    steps: () => [post('/openai/v1/smug17', 'Host: 127.0.0.1', 'Transfer-Encoding: chunked') + '10000000000000005\r\nhello\r\n0\r\n\r\n' + SMUGGLED],
    opts: DRAIN,
    answers: refused400,
    abortedOn: 'openai',
  },
  {
    id: 'SMUG-18',
    attack: 'chunk-size followed by whitespace ("5 ")',
    steps: () => [post('/openai/v1/smug18', 'Host: 127.0.0.1', 'Transfer-Encoding: chunked') + '5 \r\nhello\r\n0\r\n\r\n' + SMUGGLED],
    opts: DRAIN,
    answers: refused400,
    abortedOn: 'openai',
  },
  {
    id: 'SMUG-19',
    attack: 'chunked body with bare LF line endings',
    steps: () => [post('/openai/v1/smug19', 'Host: 127.0.0.1', 'Transfer-Encoding: chunked') + '5\nhello\n0\n\n' + SMUGGLED],
    opts: DRAIN,
    answers: refused400,
    abortedOn: 'openai',
  },
  {
    id: 'SMUG-20',
    attack: 'a bad chunk-size after forwarding began: the upstream request must be aborted, not completed truncated',
    steps: (env) => [post('/openai/v1/smug20', 'Host: 127.0.0.1', 'Transfer-Encoding: chunked') + '5\r\nhello\r\n', untilUpstreamStarted('openai', '/v1/smug20')(env), 'zz\r\nxx\r\n0\r\n\r\n'],
    opts: DRAIN,
    answers: { anyOf: [refused400, []] },
    abortedOn: 'openai',
    check: ({ received }) => {
      assert.equal(received.openai.length, 1, 'the upstream request had started');
      assert.equal(received.openai[0]!.body, 'hello');
    },
  },
  {
    id: 'SMUG-21',
    attack: 'a chunk whose data overruns its size after forwarding began (missing CRLF after the data)',
    steps: (env) => [post('/openai/v1/smug21', 'Host: 127.0.0.1', 'Transfer-Encoding: chunked') + '5\r\nhello\r\n', untilUpstreamStarted('openai', '/v1/smug21')(env), '3\r\nabcXY\r\n0\r\n\r\n'],
    opts: DRAIN,
    answers: { anyOf: [refused400, []] },
    abortedOn: 'openai',
    check: ({ received }) => assert.equal(received.openai.length, 1, 'the upstream request had started'),
  },
  {
    id: 'SMUG-22',
    attack: 'HTTP/1.0 request with Transfer-Encoding: chunked and a request smuggled behind it',
    steps: () => [req('POST http://api.openai.com/v1/chat HTTP/1.0', HOST, 'Transfer-Encoding: chunked') + '5\r\nhello\r\n0\r\n\r\n' + SMUGGLED],
    opts: DRAIN,
    answers: { anyOf: [refused400, [{ status: 200, upstream: 'openai' }]] },
    check: ({ received }) => {
      if (received.openai.length > 0) assert.equal(received.openai[0]!.body, 'hello');
    },
  },
  {
    id: 'SMUG-23',
    attack: 'a complete request for another route hidden in a Content-Length body',
    steps: () => {
      const body = 'GET http://api.anthropic.com/in-body HTTP/1.1\r\nHost: api.anthropic.com\r\n\r\n';
      return [post('/openai/v1/smug23', 'Host: 127.0.0.1', `Content-Length: ${body.length}`) + body];
    },
    opts: DRAIN,
    answers: [{ status: 200, upstream: 'openai' }],
    check: ({ received }) => assert.equal(received.openai[0]!.body, 'GET http://api.anthropic.com/in-body HTTP/1.1\r\nHost: api.anthropic.com\r\n\r\n'),
  },
  {
    id: 'SMUG-24',
    attack: 'a chunked trailer section carrying a forged Authorization',
    steps: () => [post('/openai/v1/smug24', 'Host: 127.0.0.1', 'Transfer-Encoding: chunked', 'Trailer: Authorization') + '5\r\nhello\r\n0\r\nAuthorization: Bearer FORGED-TRAILER-VALUE\r\n\r\n'],
    answers: [{ status: 200, upstream: 'openai' }],
    check: ({ rig, received }) => {
      assert.equal(received.openai[0]!.body, 'hello');
      for (const u of rig.all) assert.ok(!u.wireText().includes('FORGED-TRAILER-VALUE'), `the forged trailer reached ${u.name}`);
    },
  },

  // --- Header and target bytes ------------------------------------------------------
  {
    id: 'HDR-01',
    attack: 'bare CR inside a header value, smuggling an Authorization line',
    steps: () => [`${ABS}\r\n${HOST}\r\nX-Note: a\rAuthorization: Bearer forged\r\n\r\n`],
    answers: refused400,
  },
  {
    id: 'HDR-02',
    attack: 'bare LF inside a header value, smuggling an Authorization line',
    steps: () => [`${ABS}\r\n${HOST}\r\nX-Note: a\nAuthorization: Bearer forged\r\n\r\n`],
    answers: refused400,
  },
  {
    id: 'HDR-03',
    attack: 'CRLF inside the request-target splitting the request line and injecting a Host',
    steps: () => [`GET http://api.openai.com/v1/models\r\nHost: 127.0.0.1 HTTP/1.1\r\n${HOST}\r\n\r\n`],
    answers: [{ status: 400 }],
  },
  {
    id: 'HDR-04',
    attack: 'percent-encoded CRLF (%0d%0a) in the path',
    steps: () => [req('GET http://api.openai.com/v1/models%0d%0aX-Injected:%20yes HTTP/1.1', HOST)],
    answers: [{ status: 400, code: 'BAD_TARGET' }],
  },
  {
    id: 'HDR-05',
    attack: 'percent-encoded CRLF in the query is forwarded encoded, never decoded into a header',
    steps: () => [req('GET http://api.openai.com/v1/models?q=%0d%0aX-Injected:%20yes HTTP/1.1', HOST)],
    answers: [{ status: 200, upstream: 'openai' }],
    check: ({ received }) => {
      assert.equal(received.openai[0]!.url, '/v1/models?q=%0d%0aX-Injected:%20yes');
      assert.equal(received.openai[0]!.headers['x-injected'], undefined);
    },
  },
  { id: 'HDR-06', attack: 'NUL byte in a header value', steps: () => [`${ABS}\r\n${HOST}\r\nX-Note: a\0b\r\n\r\n`], answers: refused400 },
  { id: 'HDR-07', attack: 'NUL byte in a header name', steps: () => [`${ABS}\r\n${HOST}\r\nX-No\0te: ab\r\n\r\n`], answers: refused400 },
  { id: 'HDR-08', attack: 'NUL byte in the request-target', steps: () => [req('GET http://api.openai.com/v1/mo\0dels HTTP/1.1', HOST)], answers: refused400 },
  {
    id: 'HDR-09',
    attack: 'percent-encoded NUL (%00) in the path',
    steps: () => [req('GET /openai/v1/mo%00dels HTTP/1.1', 'Host: 127.0.0.1')],
    answers: [{ status: 400, code: 'BAD_TARGET' }],
  },
  { id: 'HDR-10', attack: 'control byte 0x01 in a header value', steps: () => [`${ABS}\r\n${HOST}\r\nX-Note: a\x01b\r\n\r\n`], answers: refused400 },
  { id: 'HDR-11', attack: 'DEL (0x7f) in a header value', steps: () => [`${ABS}\r\n${HOST}\r\nX-Note: a\x7fb\r\n\r\n`], answers: refused400 },
  { id: 'HDR-12', attack: 'TAB inside the request-target', steps: () => [req('GET http://api.openai.com/v1/mo\tdels HTTP/1.1', HOST)], answers: refused400 },
  { id: 'HDR-13', attack: 'space inside the request-target', steps: () => [req('GET http://api.openai.com/v1/a b HTTP/1.1', HOST)], answers: refused400 },
  {
    id: 'HDR-14',
    attack: 'raw UTF-8 bytes in the request-target',
    steps: () => [Buffer.from(req('GET http://api.openai.com/v1/caf\u00e9 HTTP/1.1', HOST), 'utf8')],
    answers: [{ status: 400 }],
  },
  {
    id: 'HDR-15',
    attack: 'whitespace between a header name and the colon ("Authorization : ...")',
    steps: () => [req('GET /openai/v1/models HTTP/1.1', 'Host: 127.0.0.1', 'Authorization : Bearer forged')],
    answers: refused400,
  },
  {
    id: 'HDR-16',
    attack: 'a header name with a non-token character',
    steps: () => [req('GET /openai/v1/models HTTP/1.1', 'Host: 127.0.0.1', 'X(Bad): y')],
    answers: refused400,
  },

  // --- Size limits -------------------------------------------------------------------
  {
    id: 'LIM-01',
    attack: 'request line of 20 KB',
    steps: () => [req(`GET http://api.openai.com/v1/${'a'.repeat(20_000)} HTTP/1.1`, HOST)],
    answers: [{ status: 431, code: 'HEADERS_TOO_LARGE' }],
  },
  {
    id: 'LIM-02',
    attack: 'one header of 20 KB',
    steps: () => [req(ABS, HOST, `X-Big: ${'a'.repeat(20_000)}`)],
    answers: [{ status: 431, code: 'HEADERS_TOO_LARGE' }],
  },
  {
    id: 'LIM-03',
    attack: '10,000 headers',
    steps: () => [req(ABS, HOST, ...Array.from({ length: 10_000 }, (_, i) => `X-H${i}: v`))],
    answers: [{ status: 431, code: 'HEADERS_TOO_LARGE' }],
  },
  {
    id: 'LIM-04',
    attack: "forged and duplicated Authorization placed past Node's 2,000-header cutoff (within the byte limit)",
    steps: () => [`GET /openai/v1/lim04 HTTP/1.1\r\nHost: 127.0.0.1\r\n${MANY_HEADERS}\r\nAuthorization: Bearer FORGED-PAST-CUTOFF\r\nAuthorization: Bearer FORGED-TWICE\r\n\r\n`],
    answers: { anyOf: [[{ status: 200, upstream: 'openai' }], [{ status: [400, 431] }]] },
    check: ({ rig }) => {
      for (const u of rig.all) assert.ok(!u.wireText().includes('FORGED-'), `a forged Authorization reached ${u.name}`);
    },
  },
  {
    id: 'LIM-05',
    attack: "Transfer-Encoding placed past Node's 2,000-header cutoff: the body must be forwarded intact or the request refused, never silently dropped",
    steps: () => [`POST /openai/v1/lim05 HTTP/1.1\r\nHost: 127.0.0.1\r\n${MANY_HEADERS}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`],
    answers: { anyOf: [[{ status: [400, 431] }], [{ status: 200, upstream: 'openai' }]] },
    check: ({ received }) => {
      if (received.openai.length > 0) assert.equal(received.openai[0]!.body, 'hello', 'the upstream received a different body than the agent sent');
    },
  },

  // --- Duplicates and credential-bearing headers ----------------------------------------
  {
    id: 'DUP-01',
    attack: 'two identical Authorization headers on the prefix form',
    steps: () => [req('GET /openai/v1/models HTTP/1.1', 'Host: 127.0.0.1', 'Authorization: Bearer a', 'Authorization: Bearer a')],
    answers: [{ status: 400, code: 'DUPLICATE_HEADER' }],
  },
  {
    id: 'DUP-02',
    attack: 'two Proxy-Authorization headers',
    steps: () => [req(ABS, HOST, 'Proxy-Authorization: Basic YTph', 'Proxy-Authorization: Basic Yjpi')],
    answers: [{ status: 400, code: 'DUPLICATE_HEADER' }],
  },
  {
    id: 'DUP-03',
    attack: "two copies of the route's own credential header (X-Api-Key / x-api-key) on anthropic",
    steps: () => [req('GET /anthropic/v1/messages HTTP/1.1', 'Host: 127.0.0.1', 'X-Api-Key: a', 'x-api-key: b')],
    answers: [{ status: 400, code: 'DUPLICATE_HEADER' }],
  },
  {
    id: 'DUP-04',
    attack: 'two identical Host headers',
    steps: () => [req(ABS, HOST, HOST)],
    answers: [{ status: 400, code: 'DUPLICATE_HEADER' }],
  },
  {
    id: 'DUP-05',
    attack: 'Host and host in different case, different values (host-header form)',
    steps: () => [req('GET /v1/models HTTP/1.1', 'Host: api.openai.com', 'host: api.anthropic.com')],
    answers: [{ status: 400, code: 'DUPLICATE_HEADER' }],
  },
  {
    id: 'DUP-06',
    attack: 'every credential-bearing header at once (Authorization, X-Api-Key, Api-Key, Cookie, Proxy-Authorization): exactly one credential leaves',
    steps: () => [
      req('GET /openai/v1/dup06 HTTP/1.1', 'Host: 127.0.0.1', 'Authorization: Bearer sk-sanctum-placeholder', 'X-Api-Key: forged-xak', 'Api-Key: forged-ak', 'Cookie: session=forged-cookie', 'Proxy-Authorization: Basic Zm9yZ2Vk'),
    ],
    answers: [{ status: 200, upstream: 'openai' }],
    check: ({ received }) => {
      const h = received.openai[0]!.headers;
      assert.equal(h.cookie, undefined);
      assert.equal(h['proxy-authorization'], undefined);
      assert.ok(!JSON.stringify(h).includes('forged'));
    },
  },
  {
    id: 'DUP-07',
    attack: 'an agent Authorization on an x-api-key route must not ride along with the injected key',
    steps: () => [req('GET /anthropic/v1/messages HTTP/1.1', 'Host: 127.0.0.1', 'Authorization: Bearer sk-sanctum-placeholder')],
    answers: [{ status: 200, upstream: 'anthropic' }],
  },
  {
    id: 'DUP-08',
    attack: 'Connection: close, Authorization (hop-by-hop stripping of the injected credential)',
    steps: () => [req(ABS, HOST, 'Connection: close, Authorization')],
    answers: [{ status: 400, code: 'FORBIDDEN_HEADER' }],
  },
  {
    id: 'DUP-09',
    attack: "Connection naming the route's custom credential header (X-Api-Key)",
    steps: () => [req('GET /anthropic/v1/messages HTTP/1.1', 'Host: 127.0.0.1', 'Connection: X-Api-Key')],
    answers: [{ status: 400, code: 'FORBIDDEN_HEADER' }],
  },
  {
    id: 'DUP-10',
    attack: 'Connection: keep-alive, TE (framing header listed as hop-by-hop)',
    steps: () => [req(ABS, HOST, 'Connection: keep-alive, TE', 'TE: trailers')],
    answers: [{ status: 400, code: 'FORBIDDEN_HEADER' }],
  },
  {
    id: 'DUP-11',
    attack: 'Connection: Content-Length (strip framing to desynchronise the upstream)',
    steps: () => [post('/openai/v1/chat', 'Host: 127.0.0.1', 'Connection: Content-Length', 'Content-Length: 2') + 'ab'],
    answers: [{ status: 400, code: 'FORBIDDEN_HEADER' }],
  },
  {
    id: 'DUP-12',
    attack: 'URL and method override headers and forged x-sanctum-* headers are stripped',
    steps: () => [
      req('GET /openai/v1/dup12 HTTP/1.1', 'Host: 127.0.0.1', 'X-Original-URL: /admin', 'X-Rewrite-URL: /admin', 'X-HTTP-Method: DELETE', 'X-Original-Method: DELETE', 'X-Sanctum-Route: anthropic'),
    ],
    answers: [{ status: 200, upstream: 'openai' }],
    check: ({ received }) => {
      const r = received.openai[0]!;
      assert.equal(r.method, 'GET');
      assert.equal(r.url, '/v1/dup12');
      for (const h of ['x-original-url', 'x-rewrite-url', 'x-http-method', 'x-original-method', 'x-sanctum-route']) assert.equal(r.headers[h], undefined, h);
    },
  },

  // --- Protocol corners ----------------------------------------------------------------
  {
    id: 'PROTO-01',
    attack: 'Expect: 100-continue: interim 100, body forwarded intact, Expect never forwarded',
    steps: () => [post('/openai/v1/proto01', 'Host: 127.0.0.1', 'Expect: 100-continue', 'Content-Length: 5'), { until: (c) => c.raw.includes(' 100 '), timeoutMs: 2000 }, 'hello'],
    answers: [{ status: 200, upstream: 'openai' }],
    check: ({ conversation, received }) => {
      assert.deepEqual(conversation.interim, [100]);
      assert.equal(received.openai[0]!.body, 'hello');
      assert.equal(received.openai[0]!.headers.expect, undefined);
    },
  },
  {
    id: 'PROTO-02',
    attack: 'Expect: 100-continue towards an unrouted host',
    steps: () => [post('http://evil.test/x', 'Host: evil.test', 'Expect: 100-continue', 'Content-Length: 5'), { pause: 100 }, 'hello'],
    answers: [{ status: 403, code: 'NO_ROUTE' }],
  },
  {
    id: 'PROTO-03',
    attack: 'an unknown expectation (Expect: 200-ok)',
    steps: () => [post('/openai/v1/chat', 'Host: 127.0.0.1', 'Expect: 200-ok', 'Content-Length: 5') + 'hello'],
    answers: [{ status: 417 }],
  },
  {
    id: 'PROTO-04',
    attack: 'HTTP/1.0 absolute-form without Host: routed by the target alone',
    steps: () => [req('GET http://api.openai.com/v1/models HTTP/1.0')],
    answers: [{ status: 200, upstream: 'openai' }],
  },
  {
    id: 'PROTO-05',
    attack: 'HTTP/1.0 prefix form without Host',
    steps: () => [req('GET /anthropic/v1/models HTTP/1.0')],
    answers: [{ status: 200, upstream: 'anthropic' }],
  },
  {
    id: 'PROTO-06',
    attack: 'HTTP/1.0 host-header form without Host',
    steps: () => [req('GET /v1/models HTTP/1.0')],
    answers: [{ status: 400, code: 'BAD_TARGET' }],
  },
  {
    id: 'PROTO-07',
    attack: 'HTTP/1.1 without Host',
    steps: () => [req('GET /openai/v1/models HTTP/1.1')],
    answers: [{ status: 400 }],
  },
  {
    id: 'PROTO-08',
    attack: 'HTTP/0.9-style absolute-form request (no version, no headers) must be refused',
    steps: () => ['GET http://api.openai.com/v1/models\r\n\r\n'],
    opts: { quietMs: 500 },
    answers: { anyOf: [[{ status: [400, 505] }], []] },
  },
  {
    id: 'PROTO-09',
    attack: 'HTTP/0.9-style origin-form request (no version, no Host) must be refused',
    steps: () => ['GET /openai/v1/models\r\n\r\n'],
    opts: { quietMs: 500 },
    answers: { anyOf: [[{ status: [400, 505] }], []] },
  },
  { id: 'PROTO-10', attack: 'OPTIONS * (asterisk-form)', steps: () => [req('OPTIONS * HTTP/1.1', HOST)], answers: [{ status: 400, code: 'BAD_TARGET' }] },
  { id: 'PROTO-11', attack: 'GET with an asterisk-form target', steps: () => [req('GET * HTTP/1.1', HOST)], answers: [{ status: 400, code: 'BAD_TARGET' }] },
  {
    id: 'PROTO-12',
    attack: 'TRACE through the prefix form (would echo the injected credential)',
    steps: () => [req('TRACE /openai/v1/models HTTP/1.1', 'Host: 127.0.0.1')],
    answers: [{ status: 403, code: 'METHOD_DENIED' }],
  },
  {
    id: 'PROTO-13',
    attack: 'TRACE through the host-header form',
    steps: () => [req('TRACE /v1/models HTTP/1.1', 'Host: api.openai.com')],
    answers: [{ status: 403, code: 'METHOD_DENIED' }],
  },
  { id: 'PROTO-14', attack: 'TRACK (TRACE alias)', steps: () => [req('TRACK http://api.openai.com/v1/models HTTP/1.1', HOST)], answers: [{ status: [400, 403] }] },
  { id: 'PROTO-15', attack: 'HTTP/2 connection preface on the HTTP/1 listener', steps: () => ['PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'], answers: refused400 },
  { id: 'PROTO-16', attack: 'lowercase method ("get")', steps: () => [req('get http://api.openai.com/v1/models HTTP/1.1', HOST)], answers: refused400 },
  { id: 'PROTO-17', attack: 'unknown method', steps: () => [req('FOO http://api.openai.com/v1/models HTTP/1.1', HOST)], answers: refused400 },
  { id: 'PROTO-18', attack: 'HTTP/1.2 version', steps: () => [req('GET http://api.openai.com/v1/models HTTP/1.2', HOST)], answers: refused400 },
  {
    id: 'PROTO-19',
    attack: 'WebSocket upgrade on a credential route: same pipeline (its own credential only); a non-101 answer is relayed and the connection closed',
    steps: () => [req('GET http://api.openai.com/v1/ws HTTP/1.1', HOST, 'Connection: Upgrade', 'Upgrade: websocket', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version: 13', 'Authorization: Bearer sk-sanctum-placeholder')],
    opts: DRAIN,
    answers: [{ status: 200, upstream: 'openai' }],
    mustClose: true,
  },
  {
    id: 'PROTO-20',
    attack: 'Upgrade: h2c on a credential route',
    steps: () => [req(ABS, HOST, 'Connection: Upgrade, HTTP2-Settings', 'Upgrade: h2c', 'HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA')],
    answers: [{ status: 400 }],
  },
  {
    id: 'PROTO-21',
    attack: 'WebSocket upgrade whose Host disagrees with the absolute-form target',
    steps: () => [req('GET http://api.openai.com/v1/ws HTTP/1.1', 'Host: api.anthropic.com', 'Connection: Upgrade', 'Upgrade: websocket', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version: 13')],
    answers: [{ status: 400, code: 'HOST_MISMATCH' }],
  },
  {
    id: 'PROTO-22',
    attack: 'Upgrade: websocket on a POST with a body (an upgrade that carries a request body)',
    steps: () => [post('/openai/v1/ws', 'Host: 127.0.0.1', 'Connection: Upgrade', 'Upgrade: websocket', 'Content-Length: 5') + 'hello'],
    answers: [{ status: 400 }],
  },
  {
    id: 'PROTO-23',
    attack: 'WebSocket upgrade with a dot-segment path through the prefix form',
    steps: () => [req('GET /openai/v1/../../anthropic/ws HTTP/1.1', 'Host: 127.0.0.1', 'Connection: Upgrade', 'Upgrade: websocket', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version: 13')],
    answers: [{ status: 400, code: 'BAD_TARGET' }],
  },

  // --- Pipelining ----------------------------------------------------------------------
  {
    id: 'PIPE-01',
    attack: 'two absolute-form requests to different routes on one connection',
    steps: () => [req('GET http://api.openai.com/v1/pipe01 HTTP/1.1', HOST) + req('GET http://api.anthropic.com/pipe01 HTTP/1.1', 'Host: api.anthropic.com')],
    answers: [
      { status: 200, upstream: 'openai' },
      { status: 200, upstream: 'anthropic' },
    ],
  },
  {
    id: 'PIPE-02',
    attack: 'three requests, three routes, prefix and absolute forms mixed, in one write',
    steps: () => [
      req('GET /openai/v1/pipe02 HTTP/1.1', 'Host: 127.0.0.1') +
        req('GET /anthropic/pipe02 HTTP/1.1', 'Host: 127.0.0.1') +
        req('GET http://api.github.com/pipe02 HTTP/1.1', 'Host: api.github.com'),
    ],
    answers: [
      { status: 200, upstream: 'openai' },
      { status: 200, upstream: 'anthropic' },
      { status: 200, upstream: 'github' },
    ],
  },
  {
    id: 'PIPE-03',
    attack: 'an uncached route then a cached one (the second resolves first inside the sidecar)',
    steps: () => [req('GET http://api.openai.com/v1/pipe03 HTTP/1.1', HOST) + req('GET http://api.github.com/pipe03 HTTP/1.1', 'Host: api.github.com') + req('GET http://api.openai.com/v1/pipe03b HTTP/1.1', HOST)],
    answers: [
      { status: 200, upstream: 'openai' },
      { status: 200, upstream: 'github' },
      { status: 200, upstream: 'openai' },
    ],
    check: ({ conversation }) => {
      assert.match(conversation.responses[0]!.body, /pipe03"/);
      assert.match(conversation.responses[2]!.body, /pipe03b"/);
    },
  },
  {
    id: 'PIPE-04',
    attack: 'a refused request followed by a good one on the same connection',
    steps: () => [req('GET http://api.openai.com/v1/pipe04 HTTP/1.1', 'Host: api.anthropic.com') + req('GET /anthropic/pipe04 HTTP/1.1', 'Host: 127.0.0.1')],
    answers: [
      { status: 400, code: 'HOST_MISMATCH' },
      { status: 200, upstream: 'anthropic' },
    ],
  },
  {
    id: 'PIPE-05',
    attack: 'Content-Length: 0 GET followed by a request for another route',
    steps: () => [req('GET /openai/v1/pipe05 HTTP/1.1', 'Host: 127.0.0.1', 'Content-Length: 0') + req('GET /anthropic/pipe05 HTTP/1.1', 'Host: 127.0.0.1')],
    answers: [
      { status: 200, upstream: 'openai' },
      { status: 200, upstream: 'anthropic' },
    ],
  },
  {
    id: 'PIPE-06',
    attack: 'HTTP/1.0 keep-alive pipelining across routes',
    steps: () => [req('GET /openai/v1/pipe06 HTTP/1.0', 'Connection: keep-alive') + req('GET /anthropic/pipe06 HTTP/1.0', 'Connection: keep-alive')],
    answers: [
      { status: 200, upstream: 'openai' },
      { status: 200, upstream: 'anthropic' },
    ],
  },
  {
    id: 'PIPE-07',
    attack: 'host-header, absolute and prefix forms pipelined; a placeholder Authorization on the first must not reach the others',
    steps: () => [
      req('GET /v1/pipe07 HTTP/1.1', 'Host: api.openai.com', 'Authorization: Bearer sk-sanctum-placeholder') +
        req('GET http://api.anthropic.com/pipe07 HTTP/1.1', 'Host: api.anthropic.com') +
        req('GET /openai/v1/pipe07c HTTP/1.1', 'Host: 127.0.0.1'),
    ],
    answers: [
      { status: 200, upstream: 'openai' },
      { status: 200, upstream: 'anthropic' },
      { status: 200, upstream: 'openai' },
    ],
  },
  {
    id: 'PIPE-08',
    attack: 'a framing error in the middle of a pipeline: the connection ends and later requests are never parsed',
    steps: () => [
      req('GET /openai/v1/pipe08 HTTP/1.1', 'Host: 127.0.0.1'),
      { until: (c) => c.responses >= 1, timeoutMs: 3000 },
      'GET /openai/v1/bad HTTP/1.1\nHost: 127.0.0.1\n\n' + req('GET /anthropic/pipe08 HTTP/1.1', 'Host: 127.0.0.1'),
    ],
    opts: DRAIN,
    answers: [{ status: 200, upstream: 'openai' }, ...refused400],
    mustClose: true,
  },
];

registerHostileSuite(cases);
