/**
 * Dockerfile and .dockerignore: dockerfile-utils' linter (parser-level errors and its
 * stricter optional rules, all as errors), then the conventions the issue asks for,
 * checked on the parsed instructions: multi-stage with ARG base images, non-root numeric
 * USER, nothing that needs a shell at run time, exec-form ENTRYPOINT/CMD/HEALTHCHECK,
 * STOPSIGNAL, EXPOSE, OCI labels, and no syntax that Debian's buildah 1.28 rejects.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { validate, ValidationSeverity } from 'dockerfile-utils';
import { SHIPPED_NODE_FLAGS } from '../../scripts/shipped-runtime.mjs';
import { ROOT } from './helm.js';

const DOCKERFILE = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const DOCKERIGNORE = readFileSync(join(ROOT, '.dockerignore'), 'utf8');

const STRICT = {
  deprecatedMaintainer: ValidationSeverity.ERROR,
  directiveCasing: ValidationSeverity.ERROR,
  emptyContinuationLine: ValidationSeverity.ERROR,
  instructionCasing: ValidationSeverity.ERROR,
  instructionCmdMultiple: ValidationSeverity.ERROR,
  instructionEntrypointMultiple: ValidationSeverity.ERROR,
  instructionHealthcheckMultiple: ValidationSeverity.ERROR,
  instructionJSONInSingleQuotes: ValidationSeverity.ERROR,
  instructionWorkdirRelative: ValidationSeverity.ERROR,
};

function lint(text: string): string[] {
  return validate(text, STRICT).map((d) => `line ${d.range.start.line + 1}: ${d.message}`);
}

interface Instruction {
  readonly keyword: string;
  readonly args: string;
  readonly line: number;
}

interface Stage {
  readonly from: string;
  readonly name: string | undefined;
  readonly instructions: Instruction[];
}

/** Instructions with continuation lines joined and comments dropped. */
function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let line = lines[i]!;
    if (/^\s*(#|$)/.test(line)) continue;
    while (/\\\s*$/.test(line) && i + 1 < lines.length) {
      i++;
      const next = lines[i]!;
      if (/^\s*#/.test(next)) continue;
      line = line.replace(/\\\s*$/, ' ') + next.trim();
    }
    const m = /^\s*(\w+)\s*(.*)$/.exec(line);
    if (m) out.push({ keyword: m[1]!.toUpperCase(), args: m[2]!.trim(), line: start + 1 });
  }
  return out;
}

function stages(all: Instruction[]): { globalArgs: Instruction[]; stages: Stage[] } {
  const globalArgs: Instruction[] = [];
  const result: Stage[] = [];
  for (const ins of all) {
    if (ins.keyword === 'FROM') {
      const m = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      assert.ok(m, `cannot parse FROM ${ins.args}`);
      result.push({ from: m[1]!, name: m[2], instructions: [] });
    } else if (result.length === 0) {
      if (ins.keyword === 'ARG') globalArgs.push(ins);
    } else {
      result.at(-1)!.instructions.push(ins);
    }
  }
  return { globalArgs, stages: result };
}

function jsonArray(args: string): string[] | undefined {
  try {
    const v = JSON.parse(args) as unknown;
    return Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : undefined;
  } catch {
    return undefined;
  }
}

const parsed = instructions(DOCKERFILE);
const { globalArgs, stages: allStages } = stages(parsed);
const runtime = allStages.at(-1)!;
const byKeyword = (stage: Stage, k: string): Instruction[] => stage.instructions.filter((i) => i.keyword === k);

describe('Dockerfile', () => {
  it('passes dockerfile-utils lint with every optional rule as an error', () => {
    assert.deepEqual(lint(DOCKERFILE), []);
  });

  it('the linter is live: it flags a broken Dockerfile', () => {
    const problems = lint('FROM node:24\nMAINTAINER someone\nHEALTHCHECK CMD\nworkdir app\nEXPOSE 80/sctpx\n');
    assert.ok(problems.length >= 3, `expected several problems, got ${JSON.stringify(problems)}`);
  });

  it('uses no syntax that Debian buildah 1.28 rejects (COPY --link, heredocs, ADD --checksum)', () => {
    for (const ins of parsed) {
      assert.doesNotMatch(ins.args, /--link\b/, `line ${ins.line}: COPY --link`);
      assert.doesNotMatch(ins.args, /<<-?\s*["']?\w+/, `line ${ins.line}: heredoc`);
      assert.doesNotMatch(ins.args, /--checksum\b/, `line ${ins.line}: ADD --checksum`);
      assert.notEqual(ins.keyword, 'ADD', `line ${ins.line}: use COPY`);
    }
  });

  it('is multi-stage with ARG base images defaulting to Node 24 slim (build) and distroless nonroot (runtime)', () => {
    const args = new Map(globalArgs.map((a) => {
      const [k, v] = a.args.split('=');
      return [k!, v];
    }));
    assert.equal(args.get('BUILD_IMAGE'), 'node:24-bookworm-slim');
    assert.equal(args.get('RUNTIME_IMAGE'), 'gcr.io/distroless/nodejs24-debian12:nonroot');
    assert.equal(args.get('APP_ARTIFACTS'), 'build');
    assert.ok(allStages.length >= 3);
    const build = allStages.find((s) => s.name === 'build');
    assert.ok(build, 'no build stage');
    assert.equal(build.from, '${BUILD_IMAGE}');
    assert.equal(runtime.from, '${RUNTIME_IMAGE}');
    assert.equal(runtime.name, 'runtime');
    assert.equal(allStages.find((s) => s.name === 'artifacts')?.from, '${APP_ARTIFACTS}');
    const runs = byKeyword(build, 'RUN').map((r) => r.args).join('\n');
    assert.match(runs, /npm ci\b/);
    assert.match(runs, /npm run build\b/);
    assert.match(runs, /npm prune --omit=dev\b/);
    for (const r of byKeyword(build, 'RUN')) assert.doesNotMatch(r.args, /npm (ci|install)(?![^\n]*--ignore-scripts)/, 'npm ci without --ignore-scripts');
  });

  it('the runtime stage copies only dist/, production node_modules and package.json, and runs nothing', () => {
    assert.deepEqual(byKeyword(runtime, 'RUN'), [], 'the runtime image has no shell to RUN with');
    const copies = byKeyword(runtime, 'COPY').map((c) => c.args.replace(/--chown=\S+\s*/, ''));
    assert.deepEqual(copies.sort(), [
      '--from=artifacts /app/dist ./dist',
      '--from=artifacts /app/node_modules ./node_modules',
      '--from=artifacts /app/package.json ./',
    ]);
    const workdir = byKeyword(runtime, 'WORKDIR').at(-1);
    assert.equal(workdir?.args, '/app');
  });

  it('runs as a numeric non-root user', () => {
    const user = byKeyword(runtime, 'USER').at(-1);
    assert.ok(user, 'no USER in the runtime stage');
    const m = /^(\d+)(?::(\d+))?$/.exec(user.args);
    assert.ok(m, `USER ${user.args} is not numeric (Kubernetes runAsNonRoot cannot verify names)`);
    assert.notEqual(Number(m[1]), 0);
    assert.equal(user.args, '65532:65532', 'the chart and compose assume uid/gid 65532');
  });

  it('has exec-form ENTRYPOINT and CMD, STOPSIGNAL, EXPOSE and a node HEALTHCHECK', () => {
    const entry = jsonArray(byKeyword(runtime, 'ENTRYPOINT').at(-1)?.args ?? '');
    assert.deepEqual(entry, ['node', ...SHIPPED_NODE_FLAGS, 'dist/main.js']); // flags: see node-flags.test.ts
    assert.deepEqual(jsonArray(byKeyword(runtime, 'CMD').at(-1)?.args ?? ''), ['run']);
    assert.equal(byKeyword(runtime, 'STOPSIGNAL').at(-1)?.args, 'SIGTERM');
    const ports = byKeyword(runtime, 'EXPOSE').flatMap((e) => e.args.split(/\s+/));
    assert.deepEqual(ports.sort(), ['8080', '9090']);
    const hc = byKeyword(runtime, 'HEALTHCHECK').at(-1);
    assert.ok(hc, 'no HEALTHCHECK');
    const m = /^((?:--\S+\s+)*)CMD\s+(.*)$/.exec(hc.args);
    assert.ok(m, 'HEALTHCHECK must use CMD');
    assert.deepEqual(jsonArray(m[2]!), ['node', 'dist/healthcheck.js'], 'exec form, node, no curl or shell');
    assert.match(m[1]!, /--timeout=\d+s/);
    assert.ok(existsSync(join(ROOT, 'src', 'healthcheck.ts')), 'dist/healthcheck.js is built from src/healthcheck.ts');
    const env = byKeyword(runtime, 'ENV').map((e) => e.args).join(' ');
    assert.match(env, /PATH=\/nodejs\/bin:/, 'node must resolve on distroless (/nodejs/bin)');
    assert.match(env, /NODE_ENV=production/);
  });

  it('carries the OCI labels', () => {
    const labels = byKeyword(runtime, 'LABEL').map((l) => l.args).join(' ');
    for (const k of ['title', 'description', 'source', 'version', 'revision', 'licenses', 'created']) {
      assert.match(labels, new RegExp(`org\\.opencontainers\\.image\\.${k}=`), `label ${k}`);
    }
    assert.match(labels, /licenses="Apache-2\.0"/);
  });
});

/** Docker's .dockerignore semantics, enough for these checks: last matching pattern wins; a pattern matches a path or any parent. */
function ignored(patterns: string[], path: string): boolean {
  const toRegex = (p: string): RegExp => {
    let re = '';
    for (let i = 0; i < p.length; i++) {
      const ch = p[i]!;
      if (ch === '*' && p[i + 1] === '*') {
        re += '.*';
        i++;
        if (p[i + 1] === '/') i++;
      } else if (ch === '*') re += '[^/]*';
      else if (ch === '?') re += '[^/]';
      else re += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
    return new RegExp(`^${re}$`);
  };
  const parts = path.split('/');
  const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let result = false;
  for (const raw of patterns) {
    const negate = raw.startsWith('!');
    const p = (negate ? raw.slice(1) : raw).replace(/\/+$/, '').replace(/^\//, '');
    const re = toRegex(p);
    if (candidates.some((c) => re.test(c))) result = !negate;
  }
  return result;
}

describe('.dockerignore', () => {
  const patterns = DOCKERIGNORE.split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));

  it('sends what the build stage COPYs from the context', () => {
    const sources = parsed
      .filter((i) => i.keyword === 'COPY' && !/--from=/.test(i.args))
      .flatMap((i) => i.args.split(/\s+/).filter((a) => !a.startsWith('--')).slice(0, -1));
    assert.ok(sources.length >= 4);
    for (const s of sources) {
      assert.equal(ignored(patterns, s), false, `${s} is excluded from the build context`);
      assert.ok(existsSync(join(ROOT, s)), `${s} does not exist`);
    }
    assert.equal(ignored(patterns, 'src/healthcheck.ts'), false);
    assert.equal(ignored(patterns, 'src/proxy/server.ts'), false);
  });

  it('keeps local state, secrets and bulky directories out', () => {
    for (const p of ['.git/config', 'node_modules/yaml/package.json', 'dist/main.js', '.cache/helm/v4.1.4/helm', 'test/unit/x.test.ts',
      'helm/sanctum-sidecar/values.yaml', '.sanctum-dev/agent.key', 'src/agent.key', 'src/x/demo.key.enc', 'examples/compose/init/demo-agent.key',
      'npm-debug.log', 'bench/results/a.json']) {
      assert.equal(ignored(patterns, p), true, `${p} would be sent to the builder`);
    }
  });

  it('the matcher used here behaves like Docker on the basics', () => {
    assert.equal(ignored(['*', '!src/'], 'src/a/b.ts'), false);
    assert.equal(ignored(['*', '!src/', '**/*.key'], 'src/a/b.key'), true);
    assert.equal(ignored(['node_modules'], 'node_modules/x'), true);
  });
});
