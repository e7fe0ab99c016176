#!/usr/bin/env -S node --max-semi-space-size=1
/**
 * Process entry for the `sanctum-sidecar` binary. The shebang (and the image's
 * ENTRYPOINT) run node with a small young generation: a proxy's garbage is mostly
 * short-lived socket buffers, whose memory is outside the V8 heap and freed only when a
 * scavenge collects the small objects holding them, and V8 otherwise lets the young
 * generation grow to 3 x 16 MiB. Measured on Node 24 with a 200 MiB upload: peak RSS
 * 160 MiB with 2 MiB semi-spaces, 129 MiB with 1 MiB. It must be a start-up flag; V8
 * ignores it once the heap is configured. scripts/shipped-runtime.mjs holds the flags.
 * Refuses to run with the inspector
 * open in production (I12), then hands over to the CLI.
 */
import { runCli } from './cli/index.js';

if (process.execArgv.some((a) => a.startsWith('--inspect')) && process.env.NODE_ENV === 'production') {
  process.stderr.write('sanctum-sidecar: refusing to run with the inspector enabled in production\n');
  process.exit(1);
}

runCli(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`sanctum-sidecar: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  },
);
