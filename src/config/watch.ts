/**
 * Hot reload triggers: a watch on the config file's *directory* (Kubernetes swaps a
 * `..data` symlink, which a watch on the file alone never sees), a slow content-hash
 * poll as a safety net, and SIGHUP (wired by the CLI). Events are debounced and only
 * a change of content triggers a reload.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { dirname } from 'node:path';

export interface ConfigWatcher {
  close(): void;
}

export function watchConfig(
  path: string,
  onChange: () => void,
  opts: { debounceMs?: number; pollMs?: number } = {},
): ConfigWatcher {
  const debounceMs = opts.debounceMs ?? 200;
  let lastHash: string | null = null;
  let timer: NodeJS.Timeout | null = null;
  let closed = false;

  const check = async (): Promise<void> => {
    let text: Buffer;
    try {
      text = await readFile(path);
    } catch {
      // Unreadable mid-swap or removed: let the reload report it (it keeps the old config).
      if (!closed) onChange();
      return;
    }
    const h = createHash('sha256').update(text).digest('hex');
    if (lastHash !== null && h !== lastHash && !closed) {
      lastHash = h;
      onChange();
      return;
    }
    lastHash = h;
  };
  void check();

  const schedule = (): void => {
    if (closed) return;
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      void check();
    }, debounceMs);
    timer.unref();
  };

  let watcher: FSWatcher | null = null;
  try {
    watcher = watch(dirname(path), { persistent: false }, schedule);
    watcher.on('error', () => undefined);
  } catch {
    watcher = null; // the poll below still catches changes
  }
  const poll = setInterval(schedule, opts.pollMs ?? 30_000);
  poll.unref();

  return {
    close(): void {
      closed = true;
      watcher?.close();
      clearInterval(poll);
      if (timer !== null) clearTimeout(timer);
    },
  };
}
