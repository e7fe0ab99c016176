#!/usr/bin/env node
// Runs every *.test.ts under test/ with node:test through tsx (Node 20's `node --test`
// takes no globs and ignores .ts files, so the files are listed here).
//
// Two phases share one evidence folder: first every test file, then test/final/*
// (the suite-wide no-leak search over what the first phase recorded). A closing
// "N passed, N failed" line sums both phases.
//
// Usage: npm test [-- dir-or-file ...]
import { readdirSync, statSync, mkdtempSync, rmSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { tmpdir } from 'node:os';
import { spawn } from 'node:child_process';

function collect(p, out) {
  const st = statSync(p);
  if (st.isFile()) {
    if (p.endsWith('.test.ts')) out.push(p);
    return out;
  }
  for (const name of readdirSync(p).sort()) {
    if (name === 'node_modules' || name === 'fixtures') continue;
    collect(join(p, name), out);
  }
  return out;
}

const roots = process.argv.slice(2);
const files = (roots.length ? roots : ['test']).flatMap((r) => collect(resolve(r), []));
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
const finalDir = `${sep}test${sep}final${sep}`;
const main = files.filter((f) => !f.includes(finalDir));
const final = files.filter((f) => f.includes(finalDir));
const evidence = mkdtempSync(join(tmpdir(), 'sanctum-evidence-'));

function runPhase(list) {
  return new Promise((resolvePhase) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=180000', ...list],
      { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, SANCTUM_SIDECAR_TEST: '1', SANCTUM_TEST_EVIDENCE_DIR: evidence } },
    );
    let pass = 0;
    let fail = 0;
    let tail = '';
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      const text = tail + chunk.toString();
      const lines = text.split('\n');
      tail = lines.pop() ?? '';
      for (const l of lines) {
        const m = /^# (pass|fail) (\d+)$/.exec(l);
        if (m) m[1] === 'pass' ? (pass = Number(m[2])) : (fail = Number(m[2]));
      }
    });
    child.on('exit', (code) => resolvePhase({ code: code ?? 1, pass, fail }));
  });
}

const results = [];
if (main.length) results.push(await runPhase(main));
if (final.length) results.push(await runPhase(final));
rmSync(evidence, { recursive: true, force: true });
const pass = results.reduce((n, r) => n + r.pass, 0);
const fail = results.reduce((n, r) => n + r.fail, 0);
console.log(`${pass} passed, ${fail} failed`);
process.exit(results.every((r) => r.code === 0) ? 0 : 1);
