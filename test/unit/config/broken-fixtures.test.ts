// Every broken routes.yaml under test/fixtures/config/broken/ must fail to load with
// issues naming the YAML path AND the line. Each fixture states its own expectations
// in `# expect: <path> @ <line> ~ <message regex>` comments, so adding a case is adding
// a file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../../../src/errors.js';
import { parseConfig } from '../../../src/config/load.js';

const dir = join(import.meta.dirname, '../../fixtures/config/broken');
const EXPECT = /^# expect: (\S+) @ (\d+) ~ (.+)$/gm;

const files = readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort();

test('the broken fixtures cover the required cases', () => {
  for (const name of ['missing-version', 'unknown-header-type', 'duplicate-route', 'overlapping-routes', 'bad-duration', 'scheme-in-host']) {
    assert.ok(files.includes(`${name}.yaml`), `${name}.yaml exists`);
  }
});

for (const file of files) {
  test(`broken config ${file} names the path and line of each problem`, () => {
    const text = readFileSync(join(dir, file), 'utf8');
    const expects = [...text.matchAll(EXPECT)].map((m) => ({ path: m[1] === '(root)' ? '' : m[1]!, line: Number(m[2]), re: new RegExp(m[3]!) }));
    assert.ok(expects.length > 0, `${file} has # expect lines`);
    let err: unknown;
    try {
      parseConfig(text, file, {});
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof ConfigError, `${file} must fail with ConfigError`);
    for (const x of expects) {
      const hit = err.issues.find((i) => i.path === x.path && i.line === x.line && x.re.test(i.message));
      assert.ok(hit, `${file}: expected an issue at ${x.path || '(root)'} line ${x.line} matching ${x.re}; got:\n${err.message}`);
      // The printed error carries file, line and path together, as `check` shows it.
      assert.ok(err.message.includes(`${file}:${x.line} at ${x.path || '(root)'}: `), err.message);
    }
    for (const i of err.issues) assert.ok(i.line !== undefined && i.line > 0, `every issue has a line: ${JSON.stringify(i)}`);
    assert.equal(err.issues.length, expects.length, `${file}: no unexpected issues:\n${err.message}`);
  });
}
