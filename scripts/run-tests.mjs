#!/usr/bin/env node
// Runs every *.test.ts under test/ with node:test through tsx (Node 20's `node --test`
// takes no globs and ignores .ts files, so the files are listed here).
//
// Two phases share one evidence folder: first every test file, then test/final/*
// (the suite-wide no-leak search over what the first phase recorded). A closing
// "N passed, N failed" line sums both phases.
//
// Reporters are explicit, so the output and the counts are the same on every Node line
// (the default reporter is TAP on Node 20 when piped and spec from Node 23): spec to
// stdout for people, and scripts/count-reporter.mjs to a file for the totals. A phase
// that ran no test at all fails the run: a suite that silently runs nothing is broken.
//
// Usage: npm test [-- dir-or-file ...]
import { readdirSync, statSync, mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { tmpdir } from 'node:os';
import { spawn } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';

const countReporter = pathToFileURL(fileURLToPath(new URL('./count-reporter.mjs', import.meta.url))).href;

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

const empty = { pass: 0, fail: 0, skipped: 0, todo: 0, cancelled: 0 };

function runPhase(list, index) {
  const countsFile = join(evidence, `.counts-${index}.json`);
  return new Promise((resolvePhase) => {
    const child = spawn(
      process.execPath,
      [
        '--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=180000',
        '--test-reporter=spec', '--test-reporter-destination=stdout',
        `--test-reporter=${countReporter}`, `--test-reporter-destination=${countsFile}`,
        ...list,
      ],
      { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, SANCTUM_SIDECAR_TEST: '1', SANCTUM_TEST_EVIDENCE_DIR: evidence } },
    );
    child.on('exit', (code) => {
      let counts = empty;
      try {
        counts = { ...empty, ...JSON.parse(readFileSync(countsFile, 'utf8')) };
      } catch {
        console.error(`run-tests: the count reporter wrote no totals (${countsFile})`);
        code = code || 1;
      }
      resolvePhase({ code: code ?? 1, ...counts });
    });
  });
}

const results = [];
if (main.length) results.push(await runPhase(main, results.length));
if (final.length) results.push(await runPhase(final, results.length));
rmSync(evidence, { recursive: true, force: true });
const sum = (k) => results.reduce((n, r) => n + r[k], 0);
const pass = sum('pass');
const fail = sum('fail');
const others = ['skipped', 'todo', 'cancelled'].filter((k) => sum(k) > 0).map((k) => `${sum(k)} ${k}`);
const ranNothing = results.some((r) => r.pass + r.fail + r.cancelled === 0);
console.log(`node ${process.version}${others.length ? `; ${others.join(', ')}` : ''}`);
if (ranNothing) console.error('run-tests: a phase executed no test');
console.log(`${pass} passed, ${fail} failed`);
process.exit(results.every((r) => r.code === 0) && fail === 0 && !ranNothing ? 0 : 1);
