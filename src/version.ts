/**
 * The sidecar's version, read once from the package.json next to the sources (`src/`
 * in development, `dist/` in the image, which ships package.json beside it), for
 * `sanctum_sidecar_build_info`. A missing or unreadable file gives `unknown` rather
 * than failing start-up over a label.
 */
import { readFileSync } from 'node:fs';

function readVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' && pkg.version !== '' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

export const SIDECAR_VERSION = readVersion();
