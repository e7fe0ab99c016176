/**
 * The suite-wide no-leak check (issue: "A test collects all of them and searches"):
 * every sidecar log line, every error body the sidecar wrote and every explain output
 * recorded by the other test files is searched for every secret those tests configured.
 * scripts/run-tests.mjs runs this file after all the others, on the same evidence folder.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.env.SANCTUM_TEST_EVIDENCE_DIR;

function read(kind: string): string[] {
  if (dir === undefined) return [];
  const out: string[] = [];
  for (const f of readdirSync(dir)) {
    if (!f.startsWith(`${kind}.`)) continue;
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) if (line !== '') out.push(JSON.parse(line) as string);
  }
  return out;
}

test('no secret appears in any sidecar log, error body or explain output across the suite', (t) => {
  if (dir === undefined) {
    t.skip('run through `npm test` (scripts/run-tests.mjs) to collect evidence');
    return;
  }
  const secrets = [...new Set(read('secret'))].filter((s) => s.length >= 8);
  const logs = read('log');
  const bodies = read('error-body');
  const explains = read('explain');
  assert.ok(secrets.length > 0, 'the suite configured secrets');
  assert.ok(logs.length > 0, `the suite produced sidecar logs (${logs.length})`);
  assert.ok(bodies.length > 0, `the suite produced sidecar error bodies (${bodies.length})`);
  if (explains.length === 0) t.diagnostic('no explain output was recorded in this run');
  t.diagnostic(`searched ${logs.length} log lines, ${bodies.length} error bodies, ${explains.length} explain outputs for ${secrets.length} secrets`);
  for (const [kind, texts] of [['log', logs], ['error body', bodies], ['explain', explains]] as const) {
    for (const text of texts) {
      for (const secret of secrets) {
        assert.ok(!text.includes(secret), `a secret leaked into a ${kind}: ${text.slice(0, 200).replaceAll(secret, '<SECRET>')}`);
      }
    }
  }
});
