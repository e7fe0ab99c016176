/**
 * Child-process helper for the packaging tests: runs `sanctum-sidecar check` on each
 * file given, in one process (one tsx start instead of one per file), and prints one
 * JSON line per file: {"file", "status", "output"}.
 *
 *   node --import tsx test/packaging/check-routes.ts a.yaml b.yaml
 */
import { runCli } from '../../src/cli/index.js';

const files = process.argv.slice(2);
const realStdout = process.stdout.write.bind(process.stdout);
const realStderr = process.stderr.write.bind(process.stderr);

for (const file of files) {
  let output = '';
  const capture = ((chunk: string | Uint8Array): boolean => {
    output += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    return true;
  }) as typeof process.stdout.write;
  process.stdout.write = capture;
  process.stderr.write = capture;
  let status: number;
  try {
    status = await runCli(['check', file], process.env);
  } catch (err) {
    status = 99;
    output += String(err instanceof Error ? err.stack : err);
  } finally {
    process.stdout.write = realStdout;
    process.stderr.write = realStderr;
  }
  realStdout(JSON.stringify({ file, status, output }) + '\n');
}
