/**
 * Files of the installed package: its version (for `--version`) and the examples it
 * ships (routes.yaml, dev-vault.yaml). This file sits two levels below the package root
 * both as `src/cli/package.ts` (tsx) and as `dist/cli/package.js` (the build), so one
 * relative URL serves both; package.json ships in the npm package and in the image.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = new URL('../../', import.meta.url);

/** The absolute path of a file shipped at the package root, e.g. `routes.yaml`. */
export function packagePath(name: string): string {
  return fileURLToPath(new URL(name, ROOT));
}

/** `0.1.0`; throws when package.json cannot be read (a broken install). */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('package.json', ROOT), 'utf8')) as { name?: unknown; version?: unknown };
  if (pkg.name !== 'sanctum-sidecar' || typeof pkg.version !== 'string') throw new Error('package.json of sanctum-sidecar not found next to the program');
  return pkg.version;
}
