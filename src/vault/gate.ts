/**
 * Callers waiting for the client to become ready. A waiter ends on 'ready'
 * (resolved), on 'closed' (rejected), after its own timeout (rejected), and, if it
 * is fail-fast (a call rather than whenReady), as soon as an attempt fails: a call
 * must not queue behind a vault that is known to be down.
 */
import type { VaultError } from './errors.js';

interface Waiter {
  failFast: boolean;
  settle(err: VaultError | null): void;
}

export class ReadyGate {
  readonly #waiters = new Set<Waiter>();

  /** Wait for open(); rejects with `onTimeout()` after `timeoutMs` (never, when undefined). */
  wait(failFast: boolean, timeoutMs: number | undefined, onTimeout: () => VaultError): Promise<void> {
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter: Waiter = {
        failFast,
        settle: (err) => {
          clearTimeout(timer);
          this.#waiters.delete(waiter);
          if (err === null) resolve();
          else reject(err);
        },
      };
      if (timeoutMs !== undefined) timer = setTimeout(() => waiter.settle(onTimeout()), Math.max(0, timeoutMs));
      this.#waiters.add(waiter);
    });
  }

  /** The client is ready: release everyone. */
  open(): void {
    for (const w of this.#waiters) w.settle(null);
  }

  /** An attempt failed: reject the fail-fast waiters. */
  failed(err: () => VaultError): void {
    for (const w of this.#waiters) if (w.failFast) w.settle(err());
  }

  /** The client closed: reject everyone. */
  closed(err: () => VaultError): void {
    for (const w of this.#waiters) w.settle(err());
  }
}
