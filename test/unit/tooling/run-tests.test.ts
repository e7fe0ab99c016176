/**
 * scripts/run-tests.mjs (what `npm test` runs) reads its totals from test events through
 * its own reporter, so the closing "N passed, N failed" line and the exit code are right on
 * whichever Node runs it (the default reporter differs between Node 20 and 24). Runs the
 * runner on fixture folders with the Node running this test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const fixtures = 'test/fixtures/run-tests';

function run(...paths: string[]) {
  // NODE_TEST_CONTEXT (set for this file by the outer runner) would make the inner
  // `node --test` report to its parent in node's private wire format instead of running.
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  const r = spawnSync(process.execPath, ['scripts/run-tests.mjs', ...paths.map((p) => `${fixtures}/${p}`)], {
    cwd: root,
    env,
    encoding: 'utf8',
    timeout: 120_000,
  });
  const lines = r.stdout.trimEnd().split('\n');
  return { code: r.status, last: lines.at(-1), before: lines.at(-2), stdout: r.stdout, stderr: r.stderr };
}

test('a passing run prints its count, names the runtime and exits 0', () => {
  const r = run('passing.test.ts');
  assert.equal(r.last, '2 passed, 0 failed');
  assert.equal(r.before, `node ${process.version}`);
  assert.equal(r.code, 0);
  // spec output for people, whatever the default reporter of this Node line
  assert.match(r.stdout, /✔ one/);
});

test('pass/fail counts follow the TAP summary rules; timeouts and load errors fail the run', () => {
  const r = run('mixed');
  // passed: 2 in the suite + the parent + its 2 children; failed: the throw, the timeout,
  // the parent's file that fails to load; skipped, todo and the 2 cancelled by a failed hook
  // are listed apart.
  assert.equal(r.last, '5 passed, 3 failed', r.stdout);
  assert.equal(r.before, `node ${process.version}; 1 skipped, 1 todo, 2 cancelled`);
  assert.equal(r.code, 1);
});

test('a run in which no test executed exits non-zero', () => {
  const r = run('skipped-only');
  assert.equal(r.last, '0 passed, 0 failed');
  assert.match(r.stderr, /executed no test/);
  assert.equal(r.code, 1);
});
