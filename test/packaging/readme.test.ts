/**
 * The README stands alone, inside the repository and the npm package: every relative
 * link and every repository path it names exists here, nothing points outside the
 * repository, and every command and flag of the CLI is documented in it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { COMMANDS } from '../../src/cli/index.js';
import { ROOT } from './helm.js';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

test('README links and paths stay inside the repository and exist', () => {
  assert.doesNotMatch(readme, /\.\.\/shared|DESIGN\.md|ecosystem\.md|vault-protocol\.md|\/work\//);
  const links = [...readme.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)].map((m) => m[1]!).filter((l) => !/^[a-z]+:/.test(l));
  assert.ok(links.length > 0);
  for (const l of links) {
    const target = resolve(ROOT, l);
    assert.ok(!relative(ROOT, target).startsWith('..'), `${l} points outside the repository`);
    assert.ok(existsSync(target), `${l} exists`);
  }
  // Repository paths named in code spans: `helm/sanctum-sidecar`, `examples/compose/`, `tls/x509.ts`, ...
  const named = [...readme.matchAll(/`((?:helm|examples|bench|src|tls|metrics)\/[\w./-]*)`/g)].map((m) => m[1]!);
  assert.ok(named.length > 0);
  for (const p of named) assert.ok(existsSync(join(ROOT, p)) || existsSync(join(ROOT, 'src', p)), `${p} (named in README) exists`);
});

test('README documents every command and every flag', () => {
  const section = readme.slice(readme.indexOf('## Commands'));
  for (const c of COMMANDS) {
    assert.match(section, new RegExp(`\`sanctum-sidecar ${c.spec.name}[ \`]`), `${c.spec.name} in the Commands table`);
    for (const flag of Object.keys(c.spec.flags)) assert.match(readme, new RegExp(`--${flag}\\b`), `${c.spec.name} --${flag}`);
  }
  assert.match(section, /--help/);
  assert.match(section, /--version/);
});
