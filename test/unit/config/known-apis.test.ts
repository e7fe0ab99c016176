/**
 * `check` warns when a well-known API host (api.openai.com, api.github.com, ...) would
 * be reached without a credential: a credential-less route to it, or an egress.allow
 * entry (exact or wildcard) covering it. Exit 0 unless --strict.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { parseConfig } from '../../../src/config/load.js';
import { lintKnownApis } from '../../../src/config/known-apis.js';
import { checkCommand } from '../../../src/cli/check.js';

const HEAD = 'version: 1\nvault: { agent: a }\n';

function lint(yaml: string): string[] {
  return lintKnownApis(parseConfig(HEAD + yaml, 't.yaml', {}));
}

test('a route to a well-known API without a credential is flagged, by match host or by upstream', () => {
  const w = lint(
    'routes:\n' +
      '  - { name: gh, match: { host: api.github.com } }\n' +
      '  - { name: claude, prefix: /anthropic, upstream: "https://api.anthropic.com" }\n' +
      '  - { name: ok, match: { host: api.openai.com }, credential: openai/api-key }\n' +
      '  - { name: mine, match: { host: internal.example.test } }\n',
  );
  assert.equal(w.length, 2, w.join('\n'));
  assert.match(w[0]!, /^route gh: api\.github\.com is the GitHub API, but the route has no credential.*add `credential: <vault path>`/);
  assert.match(w[1]!, /^route claude: api\.anthropic\.com is the Anthropic API, but the route has no credential/);
});

test('egress.allow of a well-known API host is flagged, exact or by wildcard, unless a route covers it', () => {
  const w = lint(
    'egress:\n  allow: [api.stripe.com, "*.googleapis.com", pypi.org, api.openai.com]\n' +
      'routes:\n  - { name: openai, match: { host: api.openai.com }, credential: openai/api-key }\n',
  );
  assert.equal(w.length, 2, w.join('\n'));
  assert.match(w[0]!, /^egress\.allow api\.stripe\.com: api\.stripe\.com is the Stripe API; allow-listed hosts pass through without a credential/);
  assert.match(w[1]!, /^egress\.allow \*\.googleapis\.com: generativelanguage\.googleapis\.com is the Google Gemini API/);
});

test('a config with credentials on every well-known host is clean', () => {
  assert.deepEqual(lint('egress: { allow: [pypi.org] }\nroutes:\n  - { name: m, match: { host: api.mistral.ai }, credential: mistral/key }\n'), []);
});

test('check prints the warning and exits 0; with --strict it exits 1', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'check-known-'));
  try {
    const file = join(dir, 'routes.yaml');
    await writeFile(file, HEAD + 'egress: { allow: [api.groq.com] }\nroutes:\n  - { name: gh, match: { host: api.github.com }, credential: github/token }\n');
    const run = async (args: string[]): Promise<{ code: number; out: string }> => {
      const stdout = new PassThrough();
      let out = '';
      stdout.on('data', (c: Buffer) => (out += c.toString()));
      const code = await checkCommand(args, {}, { stdout, stderr: stdout });
      return { code, out };
    };
    const plain = await run([file]);
    assert.equal(plain.code, 0);
    assert.match(plain.out, /^warning: egress\.allow api\.groq\.com: api\.groq\.com is the Groq API/m);
    assert.match(plain.out, /routes\.yaml: OK \(1 routes, 1 warnings\)/);
    const strict = await run(['--strict', '--config', file]);
    assert.equal(strict.code, 1);
    assert.match(strict.out, /routes\.yaml: FAILED \(--strict: 1 warnings\)/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
