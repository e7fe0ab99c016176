#!/usr/bin/env node
// `npm run bench [-- options]`: a thin launcher for bench/run.ts (TypeScript, through tsx).
// Options are passed through; see bench/README.md or `npm run bench -- --help`.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'bench', 'run.ts'), ...process.argv.slice(2)], {
  stdio: 'inherit',
  cwd: root,
});
// The harness handles these itself (it stops what it started); just pass them on.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => child.kill(sig));
}
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 130 : 1)));
