/**
 * Process lifecycle for `run` and `dev`: start the sidecar, reload on SIGHUP and on
 * config-directory changes, drain on SIGTERM/SIGINT and exit 0; a second signal exits
 * at once. Kept apart from the CLI parsing so `dev` reuses it unchanged.
 */
import { startSidecar, type Sidecar, type SidecarOptions } from '../app.js';
import { watchConfig } from '../config/watch.js';

export async function runSidecarUntilSignalled(
  opts: SidecarOptions & { watch?: boolean; onStarted?: (s: Sidecar) => void; onStopped?: () => Promise<void> },
): Promise<number> {
  const sidecar = await startSidecar(opts);
  opts.onStarted?.(sidecar);
  const reload = (): void => {
    sidecar.reload().catch(() => undefined); // logged and counted inside reload()
  };
  const watcher = opts.configPath !== undefined && opts.watch !== false ? watchConfig(opts.configPath, reload) : null;
  process.on('SIGHUP', reload);

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) {
        // Second signal: the operator wants out now.
        process.stderr.write(`sanctum-sidecar: ${signal} again, exiting immediately\n`);
        process.exit(1);
      }
      stopping = true;
      sidecar.log.info({ signal }, 'shutting down: draining in-flight requests');
      watcher?.close();
      process.off('SIGHUP', reload);
      void sidecar
        .close()
        .then(() => opts.onStopped?.())
        .then(
          () => resolve(0),
          (err: unknown) => {
            process.stderr.write(`sanctum-sidecar: error during shutdown: ${String(err)}\n`);
            resolve(1);
          },
        );
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}
