/** Helpers for the chart tests: run the real helm binary and parse what it renders. */
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { ensureHelm } from '../../scripts/fetch-helm.mjs';
import type { Manifest } from './k8s.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CHART = join(ROOT, 'helm', 'sanctum-sidecar');
export const FIXTURES = join(ROOT, 'test', 'packaging', 'fixtures');
export const CI_DIR = join(CHART, 'ci');
export const RELEASE = 't';
export const FULLNAME = `${RELEASE}-sanctum-sidecar`;
export const NAMESPACE = 'agents';

let helmPath: string | undefined;
export function helmBin(): string {
  helmPath ??= ensureHelm();
  return helmPath;
}

export interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs helm with an empty, private environment for its config/cache (no repos, no cluster). */
export function helm(args: readonly string[]): Promise<Run> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(helmBin(), args, {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: process.env.HOME ?? '/tmp',
        HELM_CACHE_HOME: join(ROOT, '.cache', 'helm-home', 'cache'),
        HELM_CONFIG_HOME: join(ROOT, '.cache', 'helm-home', 'config'),
        HELM_DATA_HOME: join(ROOT, '.cache', 'helm-home', 'data'),
        KUBECONFIG: '/dev/null',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolvePromise({ status, stdout, stderr });
    });
  });
}

export interface RenderOptions {
  readonly values?: readonly string[];
  readonly set?: readonly string[];
  readonly kubeVersion?: string;
  readonly chart?: string;
}

export function templateArgs(opts: RenderOptions = {}): string[] {
  const args = ['template', RELEASE, opts.chart ?? CHART, '--namespace', NAMESPACE];
  for (const v of opts.values ?? []) args.push('-f', v);
  for (const s of opts.set ?? []) args.push('--set', s);
  if (opts.kubeVersion) args.push('--kube-version', opts.kubeVersion);
  return args;
}

/** The defaults and every ci/*-values.yaml, the chart-testing convention: each is rendered and checked. */
export function ciCases(): Array<{ name: string; values: string[] }> {
  const files = readdirSync(CI_DIR)
    .filter((f) => f.endsWith('-values.yaml'))
    .sort();
  return [{ name: 'default', values: [] }, ...files.map((f) => ({ name: f.replace(/-values\.yaml$/, ''), values: [join(CI_DIR, f)] }))];
}

/** `helm template`; throws with helm's message when it fails. */
export async function render(opts: RenderOptions = {}): Promise<Manifest[]> {
  const res = await helm(templateArgs(opts));
  if (res.status !== 0) throw new Error(`helm template failed (${res.status}): ${res.stderr}`);
  return parseManifests(res.stdout);
}

export function parseManifests(text: string): Manifest[] {
  const docs = parseAllDocuments(text);
  const out: Manifest[] = [];
  for (const d of docs) {
    if (d.errors.length > 0) throw new Error(`helm rendered invalid YAML: ${d.errors[0]!.message}`);
    const js = d.toJS() as Manifest | null;
    if (js) out.push(js);
  }
  return out;
}

export interface CheckResult {
  readonly file: string;
  readonly status: number;
  readonly output: string;
}

/** Runs `sanctum-sidecar check` (from the sources) on each file, all in one child process. */
export function sidecarCheck(files: readonly string[]): Promise<Map<string, CheckResult>> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test', 'packaging', 'check-routes.ts'), ...files], {
      cwd: ROOT,
      env: { ...process.env, SANCTUM_SIDECAR_TEST: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      const results = new Map<string, CheckResult>();
      for (const line of stdout.split('\n')) {
        if (!line.startsWith('{')) continue;
        const r = JSON.parse(line) as CheckResult;
        results.set(r.file, r);
      }
      if (results.size !== files.length) {
        reject(new Error(`check-routes exited ${status} with ${results.size}/${files.length} results:\n${stderr}${stdout}`));
        return;
      }
      resolvePromise(results);
    });
  });
}

export function hasBinary(name: string): boolean {
  const res = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  return res.status === 0 && res.stdout.trim() !== '';
}
