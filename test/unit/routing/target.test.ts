// Request-target parsing: every rejection class of SECURITY.md I1–I2, named after the
// attack it stops, plus the canonical forms that must be accepted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SidecarError } from '../../../src/errors.js';
import {
  checkHostAgreement,
  parseAbsoluteTarget,
  parseConnectAuthority,
  parseHostHeader,
  parseOriginTarget,
} from '../../../src/routing/target.js';

function refused(fn: () => unknown, code: 'BAD_TARGET' | 'HOST_MISMATCH' = 'BAD_TARGET', message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof SidecarError, `expected SidecarError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (message) assert.match(err.message, message);
    return true;
  });
}

const abs = (raw: string) => () => parseAbsoluteTarget(raw);

test('canonical absolute-form targets are parsed into scheme, host, port, path and query', () => {
  assert.deepEqual(parseAbsoluteTarget('http://api.openai.com/v1/chat?stream=true&x=%20'), {
    scheme: 'http',
    host: 'api.openai.com',
    port: 80,
    path: '/v1/chat',
    query: '?stream=true&x=%20',
  });
  assert.deepEqual(parseAbsoluteTarget('https://example.com:8443'), { scheme: 'https', host: 'example.com', port: 8443, path: '/', query: '' });
  assert.deepEqual(parseAbsoluteTarget('http://h.test?q=1'), { scheme: 'http', host: 'h.test', port: 80, path: '/', query: '?q=1' });
  assert.equal(parseAbsoluteTarget('http://10.0.0.1:8080/').host, '10.0.0.1');
  assert.equal(parseAbsoluteTarget('http://[::1]:8080/').host, '::1');
  assert.equal(parseAbsoluteTarget('http://[2001:db8::1]/').port, 80);
  assert.equal(parseAbsoluteTarget('http://h.test/v1/caf%C3%A9/%7Euser/a%2Eb').path, '/v1/caf%C3%A9/%7Euser/a%2Eb');
  assert.equal(parseAbsoluteTarget('http://h.test/v1/...').path, '/v1/...');
  assert.equal(parseAbsoluteTarget('http://h.test/v1/').path, '/v1/');
});

test('host is lowercased and one trailing dot dropped: http://API.OpenAI.com./v1', () => {
  const t = parseAbsoluteTarget('http://API.OpenAI.com./v1');
  assert.equal(t.host, 'api.openai.com');
  assert.equal(t.path, '/v1');
  refused(abs('http://api.openai.com../v1'), 'BAD_TARGET', /more than one dot/);
});

test('userinfo smuggling is refused: http://api.openai.com@evil.test/', () => {
  refused(abs('http://api.openai.com@evil.test/'), 'BAD_TARGET', /userinfo/);
  refused(abs('http://user:pass@api.openai.com/'));
  refused(abs('http://@api.openai.com/'));
});

test('fragments and backslashes are refused anywhere', () => {
  refused(abs('http://api.openai.com/v1#frag'), 'BAD_TARGET', /fragment/);
  refused(abs('http://api.openai.com#@evil.test/'));
  refused(abs('http://api.openai.com/v1?x=1#y'));
  refused(abs('http://api.openai.com\\@evil.test/'));
  refused(abs('http://evil.test\\api.openai.com/'));
});

test('only http and https schemes', () => {
  for (const raw of ['ftp://h.test/', 'file:///etc/passwd', 'ws://h.test/', 'h.test/x', '/x', 'http:/h.test/', 'javascript://h.test/']) {
    refused(abs(raw), 'BAD_TARGET', /http/);
  }
});

test('non-canonical IPv4 forms that URL would rewrite to 127.0.0.1 are refused', () => {
  for (const raw of [
    'http://127.1/',
    'http://0x7f000001/',
    'http://0x7f.0.0.1/',
    'http://2130706433/',
    'http://0177.0.0.1/',
    'http://127.000.000.001/',
    'http://127.0.0.01/',
    'http://1.2.3.4.5/',
    'http://256.0.0.1/',
    'http://example.123/',
    'http://example.0x1/',
    'http://0x/',
  ]) {
    refused(abs(raw), 'BAD_TARGET', /IPv4/);
  }
  assert.equal(parseAbsoluteTarget('http://127.0.0.1./').host, '127.0.0.1');
});

test('percent-escapes, non-ASCII and odd characters in the host are refused', () => {
  refused(abs('http://api%2eopenai%2ecom/'), 'BAD_TARGET', /percent/);
  refused(abs('http://аpple.com/'), 'BAD_TARGET', /punycode/); // Cyrillic а
  refused(abs('http://ａｐｉ.openai.com/')); // full-width, which URL would fold
  refused(abs('http://api.openai.com\t/'));
  refused(abs('http://api open.com/'));
  refused(abs('http://-api.test/'));
  refused(abs('http://api..test/'));
  refused(abs('http://a*b.test/'));
  refused(abs('http:///v1'), 'BAD_TARGET', /empty/);
  refused(abs('http://xn--zz/'), 'BAD_TARGET', /punycode/);
});

test('punycode IDN hosts are accepted as written: http://xn--pple-43d.com/', () => {
  assert.equal(parseAbsoluteTarget('http://xn--pple-43d.com/').host, 'xn--pple-43d.com');
});

test('IPv6 literals: brackets, canonical form, no zone id', () => {
  refused(abs('http://[::1%25eth0]/'), 'BAD_TARGET', /zone/);
  refused(abs('http://[0:0:0:0:0:0:0:1]/'), 'BAD_TARGET', /canonical/);
  refused(abs('http://[::ffff:127.0.0.1]/'), 'BAD_TARGET', /canonical/);
  refused(abs('http://::1/'));
  refused(abs('http://[::1/'));
  refused(abs('http://[::1]x/'));
  refused(abs('http://[zz::1]/'));
  assert.equal(parseAbsoluteTarget('http://[2001:DB8::1]/').host, '2001:db8::1');
});

test('ports are decimal 1-65535 without sign or leading zeros', () => {
  for (const raw of ['http://h.test:0/', 'http://h.test:65536/', 'http://h.test:080/', 'http://h.test:+80/', 'http://h.test:/', 'http://h.test:8o/', 'http://h.test:1:2/', 'http://h.test:0x50/']) {
    refused(abs(raw), 'BAD_TARGET');
  }
  assert.equal(parseAbsoluteTarget('http://h.test:65535/').port, 65535);
  assert.equal(parseAbsoluteTarget('https://h.test:443/').port, 443);
});

test('path traversal is refused: raw and percent-encoded dot-segments', () => {
  for (const p of ['/v1/../admin', '/v1/./admin', '/v1/..', '/..', '/v1/%2e%2e/admin', '/v1/%2E%2E/admin', '/v1/.%2e/admin', '/v1/%2e./admin', '/v1/%2e/admin', '/v1/%2e']) {
    refused(abs(`http://api.openai.com${p}`), 'BAD_TARGET', /dot-segment/);
    refused(() => parseOriginTarget(p), 'BAD_TARGET', /dot-segment/);
  }
});

test('encoded slashes and backslashes are refused: /v1%2Fadmin, %5c', () => {
  refused(() => parseOriginTarget('/v1%2Fadmin'), 'BAD_TARGET', /encoded slash/);
  refused(() => parseOriginTarget('/v1%2fadmin'), 'BAD_TARGET', /encoded slash/);
  refused(() => parseOriginTarget('/v1%5Cadmin'), 'BAD_TARGET', /backslash/);
  refused(() => parseOriginTarget('/v1%5cadmin'), 'BAD_TARGET', /backslash/);
  refused(() => parseOriginTarget('/v1\\admin'), 'BAD_TARGET', /backslash/);
});

test('path parameters, empty segments and control bytes are refused', () => {
  refused(() => parseOriginTarget('/v1/admin;jsessionid=x'), 'BAD_TARGET', /;/);
  refused(() => parseOriginTarget('/v1/..;/admin'), 'BAD_TARGET', /;/);
  refused(() => parseOriginTarget('/v1/%3b'), 'BAD_TARGET', /;/);
  refused(() => parseOriginTarget('/v1//admin'), 'BAD_TARGET', /\/\//);
  refused(() => parseOriginTarget('/v1/'.concat('//')), 'BAD_TARGET');
  for (const p of ['/v1/a b', '/v1/\u0000', '/v1/\t', '/v1/\r\n', '/v1/é', '/v1/\u007f', '/v1/<x>', '/v1/{x}', '/v1/a|b', '/v1/`x`', '/v1/"x"']) {
    refused(() => parseOriginTarget(p), 'BAD_TARGET');
  }
  for (const p of ['/v1/%00', '/v1/%0a', '/v1/%0D', '/v1/%1f', '/v1/%7f']) {
    refused(() => parseOriginTarget(p), 'BAD_TARGET', /control|NUL/);
  }
});

test('malformed and overlong percent-escapes are refused: %zz, %4, %c0%ae, %e0%80%ae', () => {
  for (const p of ['/v1/%zz', '/v1/%4', '/v1/%', '/v1/%g0']) refused(() => parseOriginTarget(p), 'BAD_TARGET', /malformed/);
  for (const p of ['/v1/%c0%ae', '/v1/%c0%af', '/v1/%c1%9c', '/v1/%e0%80%ae', '/v1/%f0%80%80%ae', '/v1/%ed%a0%80', '/v1/%c3', '/v1/%c3x', '/v1/%80', '/v1/%f5%80%80%80', '/v1/%c3%28']) {
    refused(() => parseOriginTarget(p), 'BAD_TARGET', /UTF-8/);
  }
  assert.equal(parseOriginTarget('/v1/%F0%9F%98%80').path, '/v1/%F0%9F%98%80');
});

test('queries are kept as received but may not carry fragments, spaces, control bytes, non-ASCII or malformed escapes', () => {
  assert.deepEqual(parseOriginTarget('/openai/v1/chat?x=1&y=%2F..%2F'), { path: '/openai/v1/chat', query: '?x=1&y=%2F..%2F' });
  assert.deepEqual(parseOriginTarget('/x?'), { path: '/x', query: '?' });
  refused(() => parseOriginTarget('/x?a=1#f'), 'BAD_TARGET', /fragment/);
  refused(() => parseOriginTarget('/x?a= 1'));
  refused(() => parseOriginTarget('/x?a=\u0001'));
  refused(() => parseOriginTarget('/x?a=é'));
  for (const q of ['/x?q=100%', '/x?q=%zz', '/x?a=%4', '/x?a=%41&b=%g1', '/x?%']) refused(() => parseOriginTarget(q), 'BAD_TARGET', /malformed percent-escape/);
  refused(() => parseAbsoluteTarget('http://api.test/x?q=%2'), 'BAD_TARGET', /malformed/);
  assert.equal(parseOriginTarget('/x?q=100%25&r=%7e%7E').query, '?q=100%25&r=%7e%7E', 'well-formed escapes are forwarded as received');
});

test('origin-form must start with exactly one slash: //evil.test/openai/v1 and * are refused', () => {
  refused(() => parseOriginTarget('//evil.test/openai/v1'), 'BAD_TARGET', /\/\//);
  refused(() => parseOriginTarget('*'));
  refused(() => parseOriginTarget(''));
  refused(() => parseOriginTarget('openai/v1'));
  refused(() => parseOriginTarget('http://evil.test/'));
  assert.deepEqual(parseOriginTarget('/'), { path: '/', query: '' });
});

test('Host header parsing uses the same host rules and the scheme default port', () => {
  assert.deepEqual(parseHostHeader('API.openai.com.', 'http'), { host: 'api.openai.com', port: 80 });
  assert.deepEqual(parseHostHeader('api.openai.com', 'https'), { host: 'api.openai.com', port: 443 });
  assert.deepEqual(parseHostHeader('[::1]:9', 'http'), { host: '::1', port: 9 });
  for (const h of ['', 'a@b', 'h.test:0', '127.1', 'h.test:', 'h.test:99999', 'h test', 'h%2etest']) {
    refused(() => parseHostHeader(h, 'http'));
  }
});

test('CONNECT authority needs a port in 1-65535 and a canonical host', () => {
  assert.deepEqual(parseConnectAuthority('api.openai.com:443'), { host: 'api.openai.com', port: 443 });
  assert.deepEqual(parseConnectAuthority('[2001:db8::1]:443'), { host: '2001:db8::1', port: 443 });
  for (const raw of ['api.openai.com', 'api.openai.com:', 'api.openai.com:0', 'api.openai.com:65536', 'api.openai.com:0443', 'api.openai.com:https', '127.1:443', '0x7f000001:443', 'u@h.test:443', '[::1]', '::1:443', 'h.test:443/x']) {
    refused(() => parseConnectAuthority(raw), 'BAD_TARGET');
  }
});

test('Host header disagreeing with the absolute-form authority is HOST_MISMATCH', () => {
  const t = parseAbsoluteTarget('http://api.openai.com/v1/models');
  checkHostAgreement(t, undefined);
  checkHostAgreement(t, 'api.openai.com');
  checkHostAgreement(t, 'API.OPENAI.COM.');
  checkHostAgreement(t, 'api.openai.com:80');
  refused(() => checkHostAgreement(t, 'evil.example'), 'HOST_MISMATCH');
  refused(() => checkHostAgreement(t, 'api.openai.com:8080'), 'HOST_MISMATCH');
  refused(() => checkHostAgreement(t, ''), 'HOST_MISMATCH');
  refused(() => checkHostAgreement(t, 'api.openai.com@evil'), 'HOST_MISMATCH');
  const s = parseAbsoluteTarget('https://api.openai.com/');
  checkHostAgreement(s, 'api.openai.com:443');
  refused(() => checkHostAgreement(s, 'api.openai.com:80'), 'HOST_MISMATCH');
});

test('rejection messages never echo the input', () => {
  const evil = 'http://secret-marker@evil.test/';
  try {
    parseAbsoluteTarget(evil);
    assert.fail('should refuse');
  } catch (err) {
    assert.ok(!(err as Error).message.includes('secret-marker'));
    assert.ok(!(err as Error).message.includes('evil.test'));
  }
});
