#!/usr/bin/env node
/**
 * Process entry for the `sanctum-sidecar` binary. Refuses to run with the inspector
 * open in production (I12), then hands over to the CLI.
 */
import { runCli } from './cli.js';

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
