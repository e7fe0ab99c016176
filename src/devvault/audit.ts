/**
 * The dev vault's audit trail: one JSON line per call
 * `{ts, agent, method, path, operation, allowed, reason}`, to a file (appended,
 * mode 0600) or a stream, and kept in memory for tests. Entries are built field by
 * field from names and paths only, so a secret has no way in.
 */
import { createWriteStream } from 'node:fs';

export interface AuditEntry {
  ts: string;
  agent: string | null;
  method: string;
  path: string | null;
  operation: string | null;
  allowed: boolean;
  reason: string;
}

/** Memory kept for tests; a long-running dev vault should not grow without bound. */
const MAX_IN_MEMORY = 10_000;

export class AuditLog {
  readonly entries: AuditEntry[] = [];
  readonly #out: NodeJS.WritableStream | undefined;
  readonly #owned: boolean;

  constructor(target: string | NodeJS.WritableStream | undefined) {
    this.#owned = typeof target === 'string';
    this.#out = typeof target === 'string' ? createWriteStream(target, { flags: 'a', mode: 0o600 }) : target;
    // A broken audit file must not take the vault down mid-test; it stops recording.
    this.#out?.on('error', () => undefined);
  }

  record(e: Omit<AuditEntry, 'ts'>): void {
    const entry: AuditEntry = {
      ts: new Date().toISOString(),
      agent: e.agent,
      method: e.method,
      path: e.path,
      operation: e.operation,
      allowed: e.allowed,
      reason: e.reason,
    };
    this.entries.push(entry);
    if (this.entries.length > MAX_IN_MEMORY) this.entries.splice(0, this.entries.length - MAX_IN_MEMORY);
    this.#out?.write(JSON.stringify(entry) + '\n');
  }

  /** Flush and close a file this log opened; a stream it was given is left open. */
  close(): Promise<void> {
    const out = this.#out;
    if (!this.#owned || out === undefined) return Promise.resolve();
    return new Promise((resolve) => {
      out.once('close', () => resolve());
      out.end();
    });
  }
}
