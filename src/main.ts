#!/usr/bin/env -S node --max-semi-space-size=1 --heap-growing-percent=100
/**
 * Process entry for the `sanctum-sidecar` binary. The shebang (and the image's
 * ENTRYPOINT) run node with a small young generation (a proxy's garbage is mostly
 * short-lived socket buffers, freed only when a scavenge collects the small objects
 * holding them) and an old generation that grows to twice its live data between full
 * collections (V8 otherwise allows 4x, or 1.3x under a heap limit, which makes streams
 * pay for many full collections). Measured on Node 24 in scripts/shipped-runtime.mjs,
 * which holds the flags. They must be start-up flags; V8 ignores them once the heap is
 * configured.
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
