/**
 * Fuzzing the routes.yaml loader (issue 8, STYLE 3, I13): a valid routes.yaml mutated
 * line by line and character by character with YAML's special syntax, hostile scalar
 * values (tags, anchors and aliases, interpolation, huge and odd numbers, userinfo and
 * non-canonical hosts), and random JSON documents. Seeded and bounded.
 *
 *   - Only catalogued errors: `parseConfig` returns a Config or throws ConfigError, with
 *     at least one located issue; nothing else escapes (a TypeError here would crash
 *     `check`, start-up and reload with a stack trace instead of a located message).
 *   - No hang: each document parses within a time budget.
 *   - What is accepted is sane: frozen, every upstream origin reads the same under
 *     WHATWG URL, every host is canonical.
 *   - A reload of each rejected document leaves a running configuration untouched
 *     (checked on a sample through `loadConfigFile`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ConfigError } from '../../src/errors.js';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import { normalizeHostName } from '../../src/routing/host.js';

const BASE = `version: 1
listen: 127.0.0.1:8080
admin: 127.0.0.1:9090
vault:
  agent: my-agent
  tcp: 127.0.0.1:7600
  key_file: /keys/my-agent.key
  timeout: 2s
egress:
  unmatched: deny
  allow: [pypi.org, "*.pythonhosted.org"]
  block_private_addresses: true
  host_header_form: false
limits:
  headers_timeout: 10s
  max_header_bytes: 16384
  max_connections: 1024
routes:
  - name: openai
    match: { host: api.openai.com, path: /v1/*, methods: [GET, POST] }
    prefix: /openai
    upstream: https://api.openai.com
    credential: openai/api-key
    inject: { header_type: bearer }
    cache_ttl: 30s
    timeouts: { connect: 2s, headers: 30s, idle: 60s }
  - name: anthropic
    prefix: /anthropic
    upstream: https://api.anthropic.com/v1
    credential: anthropic/api-key
    inject: { header_type: custom, header_name: x-api-key }
  - name: stripe
    match: { host: api.stripe.com }
    credential: stripe/secret
    mode: delegate
    max_body: 1mb
  - name: local
    match: { host: echo.local }
    upstream: \${ECHO:-http://127.0.0.1:8081}
    allow_plaintext: true
    credential: null
`;

/** YAML syntax and values that have broken loaders before. */
const SCALARS = [
  '!!binary aGVsbG8=', '!!set {a, b}', '!!omap [{a: 1}]', '!!timestamp 2001-12-14', '!!float .nan', '!!int 0x1F', '!custom x', '!<tag:x> y',
  '&a x', '*a', '*undefined_alias', '<<: {a: 1}', '${HOME}', '${UNSET}', '${UNSET:-http://127.0.0.1:1}', '${', '$${X}', '~', 'null', 'true', 'yes',
  '.inf', '-.inf', '.nan', '1e400', '-1', '0', '99999999999999999999', '0o17', '0x10', '1_000', '"\\u0000"', '"\\r\\nx: y"', "'", '"', '[', ']', '{', '}',
  '|', '>', '- x', '? x', ': x', '#', '%YAML 1.1', '---', '...', '@x', '`x`', 'http://user:pw@api.openai.com', 'http://127.1', 'http://[::1%25eth0]',
  'https://api.openai.com/v1/../x', 'https://api.openai.com#f', '*.com', '*', 'API.OPENAI.COM.', 'аpple.com', 'xn--zz', '/v1/**', '/v1/../*',
  'x'.repeat(3000), '[' + '['.repeat(200) + ']'.repeat(201), '{a: ' + '{a: '.repeat(100) + '1' + '}'.repeat(101),
];
const CHARS = [':', '-', ' ', '  ', '\t', '\n', '#', '&', '*', '!', '|', '>', '[', ']', '{', '}', ',', '?', '"', "'", '%', '@', '`', '\\', '\0', '\r', '\uFEFF', 'é', '$', '{'];

type Mut =
  | { op: 'line-delete' | 'line-dup' | 'line-swap' | 'indent' | 'dedent'; at: number; at2: number }
  | { op: 'char-insert' | 'char-replace'; at: number; text: string }
  | { op: 'char-delete'; at: number; len: number }
  | { op: 'value'; at: number; text: string };

const mutation: fc.Arbitrary<Mut> = fc.oneof(
  fc.record({ op: fc.constantFrom('line-delete', 'line-dup', 'line-swap', 'indent', 'dedent'), at: fc.nat(), at2: fc.nat() }),
  fc.record({ op: fc.constantFrom('char-insert', 'char-replace'), at: fc.nat(), text: fc.constantFrom(...CHARS) }),
  fc.record({ op: fc.constant('char-delete'), at: fc.nat(), len: fc.integer({ min: 1, max: 6 }) }),
  fc.record({ op: fc.constant('value'), at: fc.nat(), text: fc.constantFrom(...SCALARS) }),
) as fc.Arbitrary<Mut>;

function mutate(text: string, muts: readonly Mut[]): string {
  let lines = text.split('\n');
  let s = text;
  for (const m of muts) {
    s = lines.join('\n');
    const li = m.at % lines.length;
    switch (m.op) {
      case 'line-delete':
        lines.splice(li, 1);
        break;
      case 'line-dup':
        lines.splice(li, 0, lines[li]!);
        break;
      case 'line-swap': {
        const lj = m.at2 % lines.length;
        [lines[li], lines[lj]] = [lines[lj]!, lines[li]!];
        break;
      }
      case 'indent':
        lines[li] = '  ' + lines[li];
        break;
      case 'dedent':
        lines[li] = lines[li]!.replace(/^ {1,2}/, '');
        break;
      case 'value': {
        // Replace the value after the first ': ' on that line (or the whole line).
        const l = lines[li]!;
        const c = l.indexOf(': ');
        lines[li] = c < 0 ? m.text : `${l.slice(0, c + 2)}${m.text}`;
        break;
      }
      default: {
        const at = m.at % (s.length + 1);
        s = m.op === 'char-delete' ? s.slice(0, at) + s.slice(at + m.len) : m.op === 'char-insert' ? s.slice(0, at) + m.text + s.slice(at) : s.slice(0, at) + m.text + s.slice(at + 1);
        lines = s.split('\n');
      }
    }
    if (lines.length === 0) lines = [''];
  }
  return lines.join('\n');
}

const ENV = { HOME: '/home/fuzz', ECHO: 'http://127.0.0.1:8081' };
const BUDGET_MS = 2000;

/** Parse; the outcome must be a Config or a ConfigError with located issues. */
function load(text: string): Config | null {
  const t0 = performance.now();
  try {
    return parseConfig(text, 'fuzz.yaml', ENV);
  } catch (err) {
    if (!(err instanceof ConfigError)) {
      throw new Error(`parseConfig threw ${(err as Error)?.constructor?.name ?? typeof err} (${String((err as Error)?.message ?? err).slice(0, 120)}) instead of a ConfigError`);
    }
    assert.ok(err.issues.length > 0, 'a ConfigError without issues');
    for (const i of err.issues) assert.equal(typeof i.message, 'string');
    return null;
  } finally {
    assert.ok(performance.now() - t0 < BUDGET_MS, 'parseConfig took too long');
  }
}

function assertSane(c: Config): void {
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.routes), 'an accepted config is frozen');
  for (const r of c.routes) {
    const u = new URL(r.upstream.origin);
    assert.equal(u.origin, r.upstream.origin, `route ${r.name}: origin ${r.upstream.origin} is not canonical`);
    assert.equal(u.hostname.replace(/^\[|\]$/g, ''), r.upstream.host);
    if (r.match.host !== undefined && !r.match.host.startsWith('*.') && !r.match.host.includes(':')) {
      assert.equal(normalizeHostName(r.match.host), r.match.host, `route ${r.name}: host ${r.match.host} is not canonical`);
    }
    assert.ok(r.upstream.basePath === '' || (r.upstream.basePath.startsWith('/') && !r.upstream.basePath.endsWith('/')));
  }
}

test('the unmutated seed document loads', () => {
  const c = load(BASE);
  assert.ok(c !== null);
  assertSane(c);
  assert.equal(c.routes.length, 4);
});

test('mutated routes.yaml: a Config or a located ConfigError, nothing else, never a hang', () => {
  let accepted = 0;
  fc.assert(
    fc.property(fc.array(mutation, { minLength: 1, maxLength: 5 }), (muts) => {
      const c = load(mutate(BASE, muts));
      if (c !== null) {
        accepted++;
        assertSane(c);
      }
    }),
    { seed: 0xc0f1, numRuns: 1000 },
  );
  assert.ok(accepted > 20, `only ${accepted} mutated documents were accepted`);
});

test('random JSON documents (YAML is a superset of JSON): a Config or a ConfigError', () => {
  const doc = fc.oneof(
    fc.jsonValue({ maxDepth: 4 }),
    fc.record({ version: fc.jsonValue({ maxDepth: 1 }), vault: fc.jsonValue({ maxDepth: 2 }), routes: fc.jsonValue({ maxDepth: 3 }) }, { requiredKeys: [] }),
  );
  fc.assert(
    fc.property(doc, (d) => {
      const c = load(JSON.stringify(d) ?? 'null');
      if (c !== null) assertSane(c);
    }),
    { seed: 0x15011, numRuns: 800 },
  );
});

test('YAML tags in every section: ConfigError, never a TypeError', () => {
  // Regression found by the mutation fuzzer: `!!binary` yields a Uint8Array where a
  // mapping is expected, and removing its "unknown keys" threw a TypeError.
  for (const tag of ['!!binary aGVsbG8=', '!!set {a, b}', '!!omap [{a: 1}]', '!!timestamp 2001-12-14', '!!float .nan']) {
    for (const place of ['vault', 'egress', 'limits', 'tls', 'routes[0].match', 'routes[0].inject', 'routes[0].timeouts']) {
      const text =
        place === 'vault'
          ? `version: 1\nvault: ${tag}\n`
          : place.startsWith('routes')
            ? `version: 1\nvault: {agent: a, tcp: "127.0.0.1:1", key_file: /k}\nroutes:\n  - name: r\n    upstream: https://a.example\n    ${place.split('.')[1]}: ${tag}\n`
            : `version: 1\nvault: {agent: a, tcp: "127.0.0.1:1", key_file: /k}\n${place}: ${tag}\n`;
      load(text);
    }
  }
});
