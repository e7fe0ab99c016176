/**
 * Evidence for the suite-wide no-leak check: every test process appends what the
 * sidecar said (log lines, its own error bodies, explain output) and the secrets it was
 * given to a run-scoped folder; `test/final/no-leak.test.ts` searches it all at the end.
 * The folder comes from SANCTUM_TEST_EVIDENCE_DIR (set by scripts/run-tests.mjs);
 * without it nothing is recorded.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

export type EvidenceKind = 'log' | 'error-body' | 'explain' | 'secret';

export function recordEvidence(kind: EvidenceKind, texts: readonly string[]): void {
  const dir = process.env.SANCTUM_TEST_EVIDENCE_DIR;
  if (dir === undefined || texts.length === 0) return;
  mkdirSync(dir, { recursive: true });
  // One JSON string per line, so multi-line bodies stay one record.
  appendFileSync(join(dir, `${kind}.${process.pid}.jsonl`), texts.map((t) => JSON.stringify(t)).join('\n') + '\n');
}
