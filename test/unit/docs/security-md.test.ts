// SECURITY.md names, for every guarantee, the test that proves it. This keeps the names
// true: every test file it cites exists, every quoted test name is a test in that file
// (a template title matches with its ${...} parts as wildcards), and every hostile-suite
// case id it cites is defined. README.md must link SECURITY.md and nothing outside the repo.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '../../..');
const doc = readFileSync(join(ROOT, 'SECURITY.md'), 'utf8');

/** Test titles of a file, as regexes (template parts are wildcards). */
function titles(file: string): RegExp[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const out: RegExp[] = [];
  for (const m of text.matchAll(/\b(?:test|it)\(\s*(['"`])((?:\\.|(?!\1).)*)\1/g)) {
    const raw = m[2]!.replace(/\\(['"`])/g, '$1');
    const parts = raw.split(/\$\{[^}]*\}/).map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    out.push(new RegExp(`^${parts.join('.*')}$`));
  }
  return out;
}

test('every test file SECURITY.md cites exists, and every quoted test name is a test there', () => {
  const cells = doc.split('\n').filter((l) => l.startsWith('|') && l.includes('`test/'));
  assert.ok(cells.length >= 20, 'the guarantee tables cite tests');
  let names = 0;
  for (const line of cells) {
    const proof = line.split('|').at(-2)!;
    // "`file`: "name", "name"; `file2`: ..." — names belong to the file cited before them.
    for (const seg of proof.split(/(?=`test\/)/)) {
      const file = /^`(test\/[^`]+)`/.exec(seg)?.[1];
      if (file === undefined) continue;
      assert.ok(existsSync(join(ROOT, file)), `SECURITY.md cites ${file}, which does not exist`);
      if (!file.endsWith('.test.ts')) continue;
      const known = titles(file);
      const text = readFileSync(join(ROOT, file), 'utf8');
      for (const m of seg.matchAll(/"([^"]+)"/g)) {
        const name = m[1]!;
        if (name.endsWith('…') || name.includes(': …')) continue;
        names++;
        // Hostile-suite cases are tests named after their `attack:` text.
        const isCase = text.includes(`attack: '${name}'`) || text.includes(`attack: "${name}"`);
        assert.ok(isCase || known.some((re) => re.test(name)), `SECURITY.md cites "${name}" in ${file}, which has no such test`);
      }
    }
  }
  assert.ok(names >= 40, `only ${names} test names checked`);
});

test('every hostile-suite case id SECURITY.md cites is defined', () => {
  const suites = ['hostile-framing', 'hostile-targets', 'hostile-connect', 'slowloris'].map((f) => readFileSync(join(ROOT, 'test/security', `${f}.test.ts`), 'utf8')).join('\n');
  const ids = new Set<string>();
  for (const m of doc.matchAll(/\b([A-Z]{3,5})-(\d{2})(?:…(\d{2}))?/g)) {
    const last = m[3] === undefined ? Number(m[2]) : Number(m[3]);
    for (let n = Number(m[2]); n <= last; n++) ids.add(`${m[1]}-${String(n).padStart(2, '0')}`);
  }
  assert.ok(ids.size > 50);
  for (const id of ids) assert.ok(suites.includes(`id: '${id}'`), `SECURITY.md cites ${id}, which no hostile suite defines`);
});

test('README links SECURITY.md and points nowhere outside the repository', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  assert.match(readme, /\]\(SECURITY\.md\)/);
  for (const m of readme.matchAll(/\]\(([^)#]+)(?:#[^)]*)?\)/g)) {
    const target = m[1]!;
    if (/^https?:\/\//.test(target)) continue;
    assert.ok(!target.startsWith('..') && !target.startsWith('/'), `README links outside the repository: ${target}`);
    assert.ok(existsSync(join(ROOT, target)), `README links a missing file: ${target}`);
  }
  assert.doesNotMatch(readme, /\.\.\/shared|\/work\//, 'README must not point at files outside the repository');
});
