/**
 * Hostile inputs, part 2: request-target authority and path tricks (issue 8, SECURITY
 * I1–I4, I8). Each case aims the credential somewhere else — another host through
 * userinfo, fragments, backslashes or non-canonical IP spellings that WHATWG URL
 * would rewrite; the sidecar's own listeners or the vault; another route's prefix
 * through dot-segments, encoded separators or overlong UTF-8 — and must be refused
 * before anything is dialled, or routed exactly as a strict parser reads it. The
 * sentinel upstream (allow-listed passthrough 127.0.0.1) must never see a credential.
 */
import assert from 'node:assert/strict';
import { domainToASCII } from 'node:url';
import { registerHostileSuite, req, type HostileCase } from './hostile-harness.js';

const HOST = 'Host: api.openai.com';
const BAD_TARGET = [{ status: 400, code: 'BAD_TARGET' }] as const;

/** An absolute-form GET with an optional Host header. */
function abs(url: string, host?: string): string {
  return host === undefined ? req(`GET ${url} HTTP/1.1`, 'Host: x.invalid') : req(`GET ${url} HTTP/1.1`, `Host: ${host}`);
}
/** An origin-form GET (prefix or host-header form). */
function origin(path: string, host = '127.0.0.1'): string {
  return req(`GET ${path} HTTP/1.1`, `Host: ${host}`);
}

const HOMOGRAPH_PUNYCODE = domainToASCII('api.open\u0430i.com'); // Cyrillic "а"

const cases: HostileCase[] = [
  // --- Authority tricks ---------------------------------------------------------------
  { id: 'AUTH-01', attack: 'userinfo with a password (http://user:pass@api.openai.com/)', steps: () => [abs('http://user:pass@api.openai.com/v1/models', 'api.openai.com')], answers: BAD_TARGET },
  {
    id: 'AUTH-02',
    attack: '"@" pointing the authority at another listener (http://api.openai.com@127.0.0.1:<sentinel>/)',
    steps: (e) => [abs(`http://api.openai.com@127.0.0.1:${e.sentinelPort}/v1/models`, `127.0.0.1:${e.sentinelPort}`)],
    answers: BAD_TARGET,
  },
  {
    id: 'AUTH-03',
    attack: '"#" in the authority (http://127.0.0.1:<sentinel>#@api.openai.com/)',
    steps: (e) => [abs(`http://127.0.0.1:${e.sentinelPort}#@api.openai.com/v1/models`, 'api.openai.com')],
    answers: [{ status: 400 }],
  },
  {
    id: 'AUTH-04',
    attack: '"\\" in the authority (http://127.0.0.1:<sentinel>\\@api.openai.com/)',
    steps: (e) => [abs(`http://127.0.0.1:${e.sentinelPort}\\@api.openai.com/v1/models`, 'api.openai.com')],
    answers: [{ status: 400 }],
  },
  { id: 'AUTH-05', attack: 'backslash inside the host (api.openai.com\\.evil.test)', steps: () => [abs('http://api.openai.com\\.evil.test/v1/models', 'api.openai.com')], answers: [{ status: 400 }] },
  { id: 'AUTH-06', attack: 'IPv6 literal with an encoded zone ([fe80::1%25eth0])', steps: () => [abs('http://[fe80::1%25eth0]/x', '[fe80::1%25eth0]')], answers: BAD_TARGET },
  { id: 'AUTH-07', attack: 'IPv6 literal with a raw zone ([fe80::1%eth0])', steps: () => [abs('http://[fe80::1%eth0]/x', 'x')], answers: BAD_TARGET },
  { id: 'AUTH-08', attack: 'decimal IPv4 (2130706433 = 127.0.0.1, the allow-listed sentinel)', steps: (e) => [abs(`http://2130706433:${e.sentinelPort}/x`, `2130706433:${e.sentinelPort}`)], answers: BAD_TARGET },
  { id: 'AUTH-09', attack: 'octal IPv4 (0177.0.0.1)', steps: (e) => [abs(`http://0177.0.0.1:${e.sentinelPort}/x`, `0177.0.0.1:${e.sentinelPort}`)], answers: BAD_TARGET },
  { id: 'AUTH-10', attack: 'hex IPv4 per octet (0x7f.0.0.1)', steps: (e) => [abs(`http://0x7f.0.0.1:${e.sentinelPort}/x`, `0x7f.0.0.1:${e.sentinelPort}`)], answers: BAD_TARGET },
  { id: 'AUTH-11', attack: 'hex IPv4 as one number (0x7f000001)', steps: (e) => [abs(`http://0x7f000001:${e.sentinelPort}/x`, `0x7f000001:${e.sentinelPort}`)], answers: BAD_TARGET },
  { id: 'AUTH-12', attack: 'short IPv4 (127.1)', steps: (e) => [abs(`http://127.1:${e.sentinelPort}/x`, `127.1:${e.sentinelPort}`)], answers: BAD_TARGET },
  { id: 'AUTH-13', attack: 'IPv4 with leading zeros (127.000.000.001)', steps: (e) => [abs(`http://127.000.000.001:${e.sentinelPort}/x`, `127.000.000.001:${e.sentinelPort}`)], answers: BAD_TARGET },
  { id: 'AUTH-14', attack: 'IPv4-mapped IPv6 in dotted form ([::ffff:127.0.0.1])', steps: (e) => [abs(`http://[::ffff:127.0.0.1]:${e.sentinelPort}/x`, `[::ffff:127.0.0.1]:${e.sentinelPort}`)], answers: BAD_TARGET },
  {
    id: 'AUTH-15',
    attack: 'one trailing dot (api.openai.com.) is the same host: routed to its own upstream',
    steps: () => [abs('http://api.openai.com./v1/models', 'api.openai.com.')],
    answers: [{ status: 200, upstream: 'openai' }],
  },
  { id: 'AUTH-16', attack: 'two trailing dots (api.openai.com..)', steps: () => [abs('http://api.openai.com../v1/models', 'api.openai.com..')], answers: BAD_TARGET },
  {
    id: 'AUTH-17',
    attack: 'mixed-case host (API.OpenAI.COM) is the same host: routed to its own upstream',
    steps: () => [abs('http://API.OpenAI.COM/v1/models', 'api.openai.com')],
    answers: [{ status: 200, upstream: 'openai' }],
  },
  {
    id: 'AUTH-18',
    attack: 'IDN homograph as raw UTF-8 (api.openаi.com, Cyrillic а)',
    steps: () => [Buffer.from(abs('http://api.open\u0430i.com/v1/models', 'api.openai.com'), 'utf8')],
    answers: [{ status: 400 }],
  },
  {
    id: 'AUTH-19',
    attack: 'IDN homograph in punycode is a different host: no route, nothing dialled',
    steps: () => [abs(`http://${HOMOGRAPH_PUNYCODE}/v1/models`, HOMOGRAPH_PUNYCODE)],
    answers: [{ status: 403, code: 'NO_ROUTE' }],
  },
  { id: 'AUTH-20', attack: 'full-width letters (ａpi.openai.com), which WHATWG folds to ASCII', steps: () => [Buffer.from(abs('http://\uff41pi.openai.com/v1/models', 'api.openai.com'), 'utf8')], answers: [{ status: 400 }] },
  { id: 'AUTH-21', attack: 'percent-encoded host (api%2eopenai%2ecom)', steps: () => [abs('http://api%2eopenai%2ecom/v1/models', 'api.openai.com')], answers: BAD_TARGET },
  { id: 'AUTH-22', attack: 'port with leading zeros (:0080)', steps: () => [abs('http://api.openai.com:0080/v1/models', 'api.openai.com:0080')], answers: BAD_TARGET },
  { id: 'AUTH-23', attack: 'empty port (api.openai.com:)', steps: () => [abs('http://api.openai.com:/v1/models', 'api.openai.com')], answers: BAD_TARGET },
  { id: 'AUTH-24', attack: 'port 65536', steps: () => [abs('http://api.openai.com:65536/v1/models', 'api.openai.com')], answers: BAD_TARGET },
  {
    id: 'AUTH-25',
    attack: 'Host names the same host on another port than the target',
    steps: () => [abs('http://api.openai.com/v1/models', 'api.openai.com:8080')],
    answers: [{ status: 400, code: 'HOST_MISMATCH' }],
  },
  {
    id: 'AUTH-26',
    attack: 'Host names the sentinel while the target names a credential route',
    steps: (e) => [abs('http://api.openai.com/v1/models', `127.0.0.1:${e.sentinelPort}`)],
    answers: [{ status: 400, code: 'HOST_MISMATCH' }],
  },
  {
    id: 'AUTH-27',
    attack: "absolute-form to the sidecar's own proxy port (request loop) on an allow-listed address",
    steps: (e) => [abs(`http://127.0.0.1:${e.proxyPort}/openai/v1/models`, `127.0.0.1:${e.proxyPort}`)],
    answers: [{ status: 403, code: 'ADDRESS_BLOCKED' }],
  },
  {
    id: 'AUTH-28',
    attack: "absolute-form to the sidecar's admin port (SSRF to /metrics)",
    steps: (e) => [abs(`http://127.0.0.1:${e.adminPort}/metrics`, `127.0.0.1:${e.adminPort}`)],
    answers: [{ status: 403, code: 'ADDRESS_BLOCKED' }],
  },
  {
    id: 'AUTH-29',
    attack: "absolute-form to the vault's TCP port",
    steps: (e) => [abs(`http://127.0.0.1:${e.vaultPort}/`, `127.0.0.1:${e.vaultPort}`)],
    answers: [{ status: 403, code: 'ADDRESS_BLOCKED' }],
  },
  {
    id: 'AUTH-30',
    attack: 'passthrough to an allow-listed host carries no vault credential (placeholder goes as sent)',
    steps: (e) => [req(`GET http://127.0.0.1:${e.sentinelPort}/auth30 HTTP/1.1`, `Host: 127.0.0.1:${e.sentinelPort}`, 'Authorization: Bearer sk-sanctum-placeholder')],
    answers: [{ status: 200, upstream: 'sentinel' }],
    check: ({ received }) => assert.equal(received.sentinel[0]!.headers.authorization, 'Bearer sk-sanctum-placeholder'),
  },
  { id: 'AUTH-31', attack: 'host-header form with userinfo in Host (evil@api.openai.com)', steps: () => [origin('/v1/models', 'evil@api.openai.com')], answers: BAD_TARGET },
  {
    id: 'AUTH-32',
    attack: 'host-header form naming an allow-listed passthrough host is never passthrough',
    steps: (e) => [origin('/auth32', `127.0.0.1:${e.sentinelPort}`)],
    answers: [{ status: 403, code: 'NO_ROUTE' }],
  },
  {
    id: 'AUTH-33',
    attack: 'host-header form ignores X-Forwarded-Host and Forwarded (routing by Host only)',
    steps: (e) => [req('GET /v1/auth33 HTTP/1.1', HOST, `X-Forwarded-Host: 127.0.0.1:${e.sentinelPort}`, 'Forwarded: host=evil.test')],
    answers: [{ status: 200, upstream: 'openai' }],
  },
  { id: 'AUTH-34', attack: 'scheme with a single slash (http:/api.openai.com)', steps: () => [abs('http:/api.openai.com/v1/models', 'api.openai.com')], answers: [{ status: 400 }] },
  { id: 'AUTH-35', attack: 'non-HTTP scheme (ftp://)', steps: () => [abs('ftp://api.openai.com/v1/models', 'api.openai.com')], answers: BAD_TARGET },
  {
    id: 'AUTH-36',
    attack: 'upper-case scheme (HTTP://) is the same scheme: routed to its own upstream',
    steps: () => [abs('HTTP://api.openai.com/v1/models', 'api.openai.com')],
    answers: [{ status: 200, upstream: 'openai' }],
  },
  { id: 'AUTH-37', attack: 'empty authority (http:///v1/models)', steps: () => [abs('http:///v1/models', 'api.openai.com')], answers: [{ status: 400 }] },
  { id: 'AUTH-38', attack: 'Host header with a trailing port colon and junk (api.openai.com:80x)', steps: () => [abs('http://api.openai.com/v1/models', 'api.openai.com:80x')], answers: [{ status: 400, code: 'HOST_MISMATCH' }] },

  // --- Path tricks ----------------------------------------------------------------------
  { id: 'PATH-01', attack: 'raw dot-segments escaping a prefix (/openai/../anthropic/...)', steps: () => [origin('/openai/../anthropic/v1/x')], answers: BAD_TARGET },
  { id: 'PATH-02', attack: 'encoded dot-segments escaping a prefix (/openai/%2e%2e/anthropic/...)', steps: () => [origin('/openai/%2e%2e/anthropic/x')], answers: BAD_TARGET },
  { id: 'PATH-03', attack: 'mixed raw and encoded dots (.%2E)', steps: () => [origin('/openai/.%2E/anthropic/x')], answers: BAD_TARGET },
  { id: 'PATH-04', attack: 'a single-dot segment (/openai/./v1/models)', steps: () => [origin('/openai/./v1/models')], answers: BAD_TARGET },
  { id: 'PATH-05', attack: 'a trailing dot-segment (/openai/v1/..)', steps: () => [origin('/openai/v1/..')], answers: BAD_TARGET },
  { id: 'PATH-06', attack: 'encoded slash crossing a prefix (/openai%2F..%2Fanthropic/...)', steps: () => [origin('/openai%2F..%2Fanthropic/x')], answers: BAD_TARGET },
  { id: 'PATH-07', attack: 'encoded backslash (%5C)', steps: () => [origin('/openai/v1%5c..%5cadmin')], answers: BAD_TARGET },
  { id: 'PATH-08', attack: 'raw backslashes (/openai\\..\\anthropic/...)', steps: () => [origin('/openai\\..\\anthropic/x')], answers: BAD_TARGET },
  { id: 'PATH-09', attack: '";" path parameter on the prefix segment (/openai;x/...)', steps: () => [origin('/openai;x/v1/models')], answers: BAD_TARGET },
  { id: 'PATH-10', attack: 'encoded ";" (%3B)', steps: () => [origin('/openai/v1%3b/models')], answers: BAD_TARGET },
  { id: 'PATH-11', attack: 'double slash right after the prefix (/openai//v1/models)', steps: () => [origin('/openai//v1/models')], answers: BAD_TARGET },
  { id: 'PATH-12', attack: 'double slash inside the path (/openai/v1//models)', steps: () => [origin('/openai/v1//models')], answers: BAD_TARGET },
  { id: 'PATH-13', attack: 'double slash in absolute-form path (http://api.openai.com//v1/models)', steps: () => [abs('http://api.openai.com//v1/models', 'api.openai.com')], answers: BAD_TARGET },
  { id: 'PATH-14', attack: 'overlong UTF-8 dots (%c0%ae%c0%ae)', steps: () => [origin('/openai/%c0%ae%c0%ae/x')], answers: BAD_TARGET },
  { id: 'PATH-15', attack: 'three-byte overlong dot (%e0%80%ae)', steps: () => [origin('/openai/%e0%80%ae%e0%80%ae/x')], answers: BAD_TARGET },
  { id: 'PATH-16', attack: 'overlong slash (%c0%af)', steps: () => [origin('/openai/v1%c0%afmodels')], answers: BAD_TARGET },
  { id: 'PATH-17', attack: 'malformed escapes (%zz, truncated %4)', steps: () => [origin('/openai/v1/%zz%4')], answers: BAD_TARGET },
  {
    id: 'PATH-18',
    attack: 'prefix boundary: /openaiX/ is not under /openai',
    steps: () => [origin('/openaiX/v1/models')],
    answers: [{ status: [400, 403] }],
  },
  { id: 'PATH-19', attack: "a path outside the route's pattern (/v2/ on a /v1/* route)", steps: () => [abs('http://api.openai.com/v2/models', 'api.openai.com')], answers: [{ status: 403, code: 'METHOD_DENIED' }] },
  { id: 'PATH-20', attack: 'encoded dot-segments in the host-header form', steps: () => [origin('/v1/%2E%2E/admin', 'api.openai.com')], answers: BAD_TARGET },
  { id: 'PATH-21', attack: 'encoded dot-segments in absolute-form on a route without a path pattern', steps: () => [abs('http://api.anthropic.com/%2e%2e/x', 'api.anthropic.com')], answers: BAD_TARGET },
  { id: 'PATH-22', attack: 'fragment in an origin-form target', steps: () => [origin('/openai/v1/models#frag')], answers: [{ status: 400 }] },
  {
    id: 'PATH-23',
    attack: 'double-encoded dot-segments are forwarded byte for byte, never decoded',
    steps: () => [abs('http://api.openai.com/v1/%252e%252e/admin', 'api.openai.com')],
    answers: [{ status: 200, upstream: 'openai' }],
    check: ({ received }) => assert.equal(received.openai[0]!.url, '/v1/%252e%252e/admin'),
  },
  {
    id: 'PATH-24',
    attack: 'dot-segments in the query are data: forwarded verbatim, path unchanged',
    steps: () => [abs('http://api.openai.com/v1/models?next=/../../admin', 'api.openai.com')],
    answers: [{ status: 200, upstream: 'openai' }],
    check: ({ received }) => assert.equal(received.openai[0]!.url, '/v1/models?next=/../../admin'),
  },
  {
    id: 'PATH-25',
    attack: 'percent-encoded unreserved characters match as decoded but are forwarded as sent',
    steps: () => [origin('/openai/%76%31/models')],
    answers: [{ status: 200, upstream: 'openai' }],
    check: ({ received }) => assert.equal(received.openai[0]!.url, '/%76%31/models'),
  },
  {
    id: 'PATH-26',
    attack: 'encoded prefix (/%6fpenai/...) is not the prefix',
    steps: () => [origin('/%6fpenai/v1/models')],
    answers: [{ status: [400, 403] }],
  },
];

registerHostileSuite(cases);
