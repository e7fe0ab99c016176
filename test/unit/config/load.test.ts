// Loading valid routes.yaml: defaults, conversion to domain types, ${VAR} interpolation,
// paths, and reading from disk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, symlink, writeFile, mkdir, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../../src/errors.js';
import { loadConfigFile, parseConfig } from '../../../src/config/load.js';

const MIN = 'version: 1\nvault: { agent: my-agent }\n';

function issuesOf(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfig(text, 't.yaml', env);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.issues.map((i) => `${i.line}:${i.path}: ${i.message}`);
  }
  return [];
}

test('a minimal file gets every documented default', () => {
  const c = parseConfig(MIN, 'min.yaml', { HOME: '/home/u' });
  assert.equal(c.version, 1);
  assert.deepEqual(c.listen, { host: '127.0.0.1', port: 8080 });
  assert.deepEqual(c.admin, { host: '127.0.0.1', port: 9090 });
  assert.deepEqual(c.vault, {
    agent: 'my-agent',
    socket: '/home/u/.sanctum/vault.sock',
    tcp: undefined,
    keyFile: '/home/u/.sanctum/keys/my-agent.key',
    passphraseEnv: undefined,
    timeoutMs: 2000,
  });
  assert.deepEqual(c.egress, { unmatched: 'deny', allow: [], blockPrivateAddresses: true, hostHeaderForm: false });
  assert.deepEqual(c.tls, { caDir: undefined, upstreamCaFile: undefined });
  assert.deepEqual(c.limits, {
    headersTimeoutMs: 10_000,
    requestTimeoutMs: 0,
    keepAliveTimeoutMs: 65_000,
    maxHeaderBytes: 16_384,
    maxConnections: 1024,
    maxDelegatesInFlight: 128,
    shutdownTimeoutMs: 25_000,
    retryBufferBytes: 64 * 1024,
    bodyIdleTimeoutMs: 60_000,
    drainDelayMs: 0,
  });
  assert.equal(c.adminDetail, false, 'admin detail is off unless asked for');
  assert.deepEqual(c.routes, []);
  assert.match(c.hash, /^[0-9a-f]{16}$/);
  assert.equal(c.source, 'min.yaml');
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.vault), 'the snapshot is immutable');
});

test('a route gets its defaults and its host-derived upstream', () => {
  const c = parseConfig(`${MIN}routes:\n  - name: gh\n    match: { host: API.GitHub.com. }\n    credential: github/token\n`, 't.yaml', {});
  const r = c.routes[0]!;
  assert.deepEqual(r, {
    name: 'gh',
    match: { host: 'api.github.com', ports: [], paths: [], methods: [] },
    prefix: undefined,
    upstream: { scheme: 'https', host: 'api.github.com', port: 443, basePath: '', origin: 'https://api.github.com', authority: 'api.github.com' },
    credential: 'github/token',
    mode: 'inject',
    inject: { headerType: 'bearer', headerName: undefined },
    cacheTtlMs: 0,
    allowPlaintext: false,
    allowWildcardHost: false,
    keepCookies: false,
    timeouts: { connectMs: 10_000, headersMs: 60_000, idleMs: 300_000 },
    maxBodyBytes: 1024 * 1024,
    line: 4,
    retryNonIdempotent: false,
    responseGuard: 'mask',
    keepForwardingHeaders: false,
    headers: { set: [], remove: [] },
  });
});

test('every route field converts to the domain shape', () => {
  const c = parseConfig(
    `${MIN}routes:
  - name: full
    match: { host: "*.corp.example.com", paths: [/v1/*, /v2/models], methods: [get, Post] }
    prefix: /corp
    upstream: http://10.0.0.5:8080/api/
    credential: corp/{agent}/token
    mode: delegate
    inject: { header_type: custom, header_name: X-Corp-Key }
    cache_ttl: 30s
    allow_plaintext: true
    allow_wildcard_host: true
    keep_cookies: true
    timeouts: { connect: 500ms, headers: 5s, idle: 1m }
    max_body: 512kb
`,
    't.yaml',
    {},
  );
  const r = c.routes[0]!;
  assert.deepEqual(r.match, { host: '*.corp.example.com', ports: [], paths: ['/v1/*', '/v2/models'], methods: ['GET', 'POST'] });
  assert.deepEqual(r.upstream, { scheme: 'http', host: '10.0.0.5', port: 8080, basePath: '/api', origin: 'http://10.0.0.5:8080', authority: '10.0.0.5:8080' });
  assert.equal(r.credential, 'corp/{agent}/token');
  assert.equal(r.mode, 'delegate');
  assert.deepEqual(r.inject, { headerType: 'custom', headerName: 'x-corp-key' });
  assert.equal(r.cacheTtlMs, 30_000);
  assert.deepEqual(r.timeouts, { connectMs: 500, headersMs: 5000, idleMs: 60_000 });
  assert.equal(r.maxBodyBytes, 512 * 1024);
  assert.equal(r.prefix, '/corp');
  assert.ok(r.allowPlaintext && r.allowWildcardHost && r.keepCookies);
});

test('retry.non_idempotent converts on inject routes', () => {
  const c = parseConfig(
    `${MIN}routes:
  - name: jobs
    match: { host: jobs.example.com }
    credential: jobs/key
    retry: { non_idempotent: true }
`,
    't.yaml',
    {},
  );
  assert.equal(c.routes[0]!.retryNonIdempotent, true);
});

test('top-level sections convert: listen, admin off, vault tcp, egress hosts, tls, limits', () => {
  const c = parseConfig(
    `version: 1
listen: "[::1]:0"
admin: false
vault: { agent: a, tcp: "127.0.0.1:7600", key_file: /keys/a.key, passphrase_env: KEY_PASS, timeout: 250ms }
egress: { unmatched: passthrough, allow: [PyPI.org., "*.PythonHosted.org", pypi.org], block_private_addresses: false, host_header_form: true }
tls: { ca_dir: /etc/ca, upstream_ca_file: ~/ca.pem }
limits: { headers_timeout: 5s, request_timeout: 10m, keep_alive_timeout: 5s, max_header_bytes: 32768, max_connections: 10, shutdown_timeout: 1s, drain_delay: 5s, retry_buffer: 8kb }
`,
    't.yaml',
    { HOME: '/h' },
  );
  assert.deepEqual(c.listen, { host: '::1', port: 0 });
  assert.equal(c.admin, undefined);
  assert.deepEqual(c.vault, { agent: 'a', socket: undefined, tcp: { host: '127.0.0.1', port: 7600 }, keyFile: '/keys/a.key', passphraseEnv: 'KEY_PASS', timeoutMs: 250 });
  assert.deepEqual(c.egress, {
    unmatched: 'passthrough',
    allow: [
      { host: 'pypi.org', port: undefined },
      { host: '*.pythonhosted.org', port: undefined },
    ],
    blockPrivateAddresses: false,
    hostHeaderForm: true,
  });
  assert.deepEqual(c.tls, { caDir: '/etc/ca', upstreamCaFile: '/h/ca.pem' });
  assert.equal(c.limits.requestTimeoutMs, 600_000);
  assert.equal(c.limits.maxHeaderBytes, 32768);
  assert.equal(c.limits.drainDelayMs, 5000);
  assert.equal(c.limits.retryBufferBytes, 8 * 1024);
  assert.equal(parseConfig(MIN, 't', {}).limits.retryBufferBytes, 64 * 1024, 'retry_buffer defaults to 64 KiB');
  assert.equal(parseConfig(`${MIN}limits: { retry_buffer: 0 }\n`, 't', {}).limits.retryBufferBytes, 0, '0 holds no bodies');
  assert.equal(parseConfig(`${MIN}admin: null\n`, 't', {}).admin, undefined);
  assert.deepEqual(parseConfig(`${MIN}admin: 0.0.0.0:9999\n`, 't', {}).admin, { host: '0.0.0.0', port: 9999 });
  assert.deepEqual(parseConfig(`${MIN}routes:\n`, 't', {}).routes, [], 'an empty routes: is no routes');
});

test('${VAR} and ${VAR:-default} interpolate string values; plain scalars are re-typed', () => {
  const c = parseConfig(
    `version: 1
listen: \${LISTEN:-127.0.0.1:18080}
admin: \${ADMIN}
vault: { agent: "\${AGENT}", timeout: "\${VT:-3s}", key_file: "/k/$\${HOME}.key" }
limits:
  max_connections: \${MAXC}
egress:
  host_header_form: \${HHF:-false}
routes:
  - name: r
    prefix: /\${PFX}
    upstream: https://\${UP_HOST}:\${UP_PORT:-443}/base
    credential: keys/r
`,
    't.yaml',
    { ADMIN: 'false', AGENT: 'agent-7', MAXC: '12', PFX: 'svc', UP_HOST: 'up.test', VT: '' },
  );
  assert.deepEqual(c.listen, { host: '127.0.0.1', port: 18080 });
  assert.equal(c.admin, undefined, 'ADMIN=false disables the admin listener');
  assert.equal(c.vault.agent, 'agent-7');
  assert.equal(c.vault.keyFile, '/k/${HOME}.key', '$${ is a literal ${');
  assert.equal(c.vault.timeoutMs, 3000, ':- applies to an empty variable too');
  assert.equal(c.limits.maxConnections, 12);
  assert.equal(c.egress.hostHeaderForm, false);
  assert.equal(c.routes[0]!.prefix, '/svc');
  assert.equal(c.routes[0]!.upstream.origin, 'https://up.test');
  assert.equal(c.routes[0]!.upstream.basePath, '/base');
  assert.deepEqual([...(c.envPaths ?? [])].sort(), ['admin', 'limits.max_connections', 'routes[0].prefix', 'routes[0].upstream', 'vault.agent']);
});

test('a literal $${ is not a reference, and a quoted interpolation stays a string', () => {
  const issues = issuesOf(`${MIN}limits: { max_connections: "\${N}" }\n`, { N: '5' });
  assert.equal(issues.length, 1);
  assert.match(issues[0]!, /limits\.max_connections: must be a whole number/);
});

test('interpolation never injects YAML structure', () => {
  const env = { EVIL: 'x\nroutes:\n  - name: injected\n    match: { host: evil.test }', LIST: '[a, b]', MAP: '{ host: evil.test }' };
  const issues = issuesOf(`${MIN}routes:\n  - name: r\n    match: { host: "\${MAP}" }\n    prefix: /\${EVIL}\n`, env);
  assert.ok(issues.some((i) => i.includes('routes[0].match.host')), issues.join('\n'));
  assert.ok(issues.some((i) => i.includes('routes[0].prefix')), issues.join('\n'));
  const c = parseConfig(`${MIN}egress: { allow: ["\${ONE}"] }\n`, 't', { ONE: 'pypi.org' });
  assert.deepEqual(c.egress.allow, [{ host: 'pypi.org', port: undefined }]);
  const list = issuesOf(`${MIN}egress:\n  allow: \${LIST}\n`, env);
  assert.ok(list.some((i) => /egress\.allow: must be a list/.test(i)), list.join('\n'));
});

test('unset variables and malformed references are issues with path and line', () => {
  const issues = issuesOf(`${MIN}routes:\n  - name: r\n    prefix: /x\n    upstream: \${UPSTREAM}\n    credential: \${1BAD}\n`);
  assert.deepEqual(issues, [
    '6:routes[0].upstream: environment variable UPSTREAM is not set and has no default (write ${UPSTREAM:-default})',
    '7:routes[0].credential: malformed ${...} reference; write ${NAME} or ${NAME:-default} (use $${ for a literal ${)',
  ]);
});

test('environment values are never quoted back in messages', () => {
  const issues = issuesOf(`${MIN}routes:\n  - name: \${N}\n    match: { host: a.test }\n  - name: \${N}\n    match: { host: b.test }\n`, {
    N: 'sk-live-secret-value',
  });
  assert.match(issues.join('\n'), /duplicate route name \(value from the environment\)/);
  assert.ok(!issues.join('\n').includes('sk-live-secret-value'), issues.join('\n'));
});

test('all independent problems are reported together, sorted by line', () => {
  const issues = issuesOf(`version: 3
vault: { agent: a, tcp: "nope" }
routes:
  - name: a
    match: { host: "https://a.test" }
  - name: b
    match: { host: b.test }
    upstream: http://b.test
    credential: b/key
    cache_ttl: forever
`);
  assert.equal(issues.length, 5, issues.join('\n'));
  assert.deepEqual(issues.map((i) => Number(i.split(':')[0])), [1, 2, 5, 8, 10]);
});

test('a non-mapping document is refused with a line', () => {
  assert.match(issuesOf('- just\n- a list\n')[0]!, /^1:: routes\.yaml must be a mapping/);
  assert.match(issuesOf('')[0]!, /must be a mapping/);
});

test('loadConfigFile follows symlinks and resolves relative paths against the file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sanctum-cfg-'));
  try {
    await mkdir(join(dir, 'real'));
    await writeFile(join(dir, 'real', 'routes.yaml'), 'version: 1\nvault: { agent: a, socket: ./vault.sock, key_file: keys/a.key }\ntls: { ca_dir: ../ca }\n');
    await symlink(join(dir, 'real', 'routes.yaml'), join(dir, 'link.yaml'));
    const c = await loadConfigFile(join(dir, 'link.yaml'), {});
    assert.equal(c.vault.socket, join(dir, 'vault.sock'), 'relative to the directory of the path given');
    assert.equal(c.vault.keyFile, join(dir, 'keys', 'a.key'));
    assert.equal(c.tls.caDir, join(dir, '..', 'ca').replace(/\/$/, ''));
    const inline = parseConfig('version: 1\nvault: { agent: a, socket: ./vault.sock }\n', 'inline', {});
    assert.equal(inline.vault.socket, './vault.sock', 'parseConfig without baseDir keeps relative paths');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('an unreadable config file is a ConfigError saying why', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sanctum-cfg-'));
  try {
    await assert.rejects(loadConfigFile(join(dir, 'missing.yaml'), {}), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /missing\.yaml.*cannot read the configuration: the file does not exist/s);
      return true;
    });
    await assert.rejects(loadConfigFile(dir, {}), /it is a directory/);
    await symlink(join(dir, 'nowhere.yaml'), join(dir, 'dangling.yaml'));
    await assert.rejects(loadConfigFile(join(dir, 'dangling.yaml'), {}), /does not exist/);
    if (process.getuid?.() !== 0) {
      await writeFile(join(dir, 'secret.yaml'), MIN);
      await chmod(join(dir, 'secret.yaml'), 0o000);
      await assert.rejects(loadConfigFile(join(dir, 'secret.yaml'), {}), /permission denied/);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a route with neither host nor prefix is reported once', () => {
  assert.deepEqual(issuesOf(`${MIN}routes:\n  - name: lonely\n`), ['4:routes[0]: route lonely needs match.host, prefix, or both (otherwise no request can reach it)']);
});

test('a wildcard route must name its upstream: the credential goes to one fixed origin', () => {
  const issues = issuesOf(`${MIN}routes:\n  - name: w\n    match: { host: "*.corp.test" }\n    allow_wildcard_host: true\n    credential: corp/token\n`);
  assert.deepEqual(issues, ['4:routes[0].upstream: `upstream` is required for a wildcard host: a credential goes to one fixed origin, never to whatever host was asked for']);
});

test('a YAML alias bomb is a ConfigError, not a hang or a crash', () => {
  const rows = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
  for (let i = 0; i < 8; i++) rows.push(`${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill(`*${String.fromCharCode(97 + i)}`).join(', ')}]`);
  assert.throws(() => parseConfig(`${MIN}${rows.join('\n')}\n`, 'bomb.yaml', {}), /Excessive alias count/);
});
