/**
 * `sanctum-sidecar dev-vault --file dev-vault.yaml [--listen H:P | --socket PATH]
 * [--audit-log F]`: the development vault alone, until SIGINT or SIGTERM.
 * Usage errors print a clear message and return 2.
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseListen, DevVaultConfigError } from './config.js';
import { startDevVault } from './server.js';

export interface DevVaultCommandIo {
  stderr?: NodeJS.WritableStream;
  env?: NodeJS.ProcessEnv;
  /** Stops the vault like a signal would (tests). */
  signal?: AbortSignal;
}

const USAGE = 'usage: sanctum-sidecar dev-vault [--file dev-vault.yaml] [--listen HOST:PORT | --socket PATH] [--audit-log FILE]';

export async function runDevVaultCommand(args: string[], io: DevVaultCommandIo = {}): Promise<number> {
  const stderr = io.stderr ?? process.stderr;
  const fail = (msg: string): number => {
    stderr.write(`dev-vault: ${msg}\n${USAGE}\n`);
    return 2;
  };
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        file: { type: 'string', short: 'f' },
        listen: { type: 'string', short: 'l' },
        socket: { type: 'string', short: 's' },
        'audit-log': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    return fail((err as Error).message);
  }
  if (values.help) {
    stderr.write(USAGE + '\n');
    return 0;
  }
  if (values.listen !== undefined && values.socket !== undefined) return fail('give --listen or --socket, not both');
  const listen = values.listen !== undefined ? parseListen(values.listen) : undefined;
  if (values.listen !== undefined && listen === undefined) return fail(`--listen must be HOST:PORT, got "${values.listen}"`);
  const file = values.file ?? 'dev-vault.yaml';
  if (!existsSync(file)) return fail(`cannot find ${file}; pass --file PATH (the repository has an example dev-vault.yaml)`);

  let vault;
  try {
    vault = await startDevVault({
      file,
      ...(listen !== undefined ? { listen } : values.socket !== undefined ? { listen: { socket: values.socket } } : {}),
      ...(values['audit-log'] !== undefined ? { auditLog: values['audit-log'] } : {}),
      env: io.env ?? process.env,
      banner: true,
      log: (line) => stderr.write(line + '\n'),
    });
  } catch (err) {
    if (err instanceof DevVaultConfigError) return fail(err.message);
    const code = (err as NodeJS.ErrnoException).code;
    return fail(`cannot start: ${(err as Error).message}${code === 'EADDRINUSE' ? ' (is another vault running?)' : ''}`);
  }

  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      io.signal?.removeEventListener('abort', stop);
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    if (io.signal?.aborted) stop();
    else io.signal?.addEventListener('abort', stop, { once: true });
  });
  await vault.close();
  stderr.write('dev-vault: stopped\n');
  return 0;
}
