/**
 * `sanctum-sidecar dev-vault --file dev-vault.yaml [--listen H:P | --socket PATH]
 * [--audit-log F]`: the development vault (src/devvault) alone, until SIGINT or
 * SIGTERM. Usage errors print a clear message and return 2.
 */
import { existsSync } from 'node:fs';
import { parseCommand, type CommandSpec } from './flags.js';
import { packagePath } from './package.js';

export interface DevVaultCommandIo {
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  env?: NodeJS.ProcessEnv;
  /** Stops the vault like a signal would (tests). */
  signal?: AbortSignal;
}

export const DEV_VAULT_SPEC = {
  name: 'dev-vault',
  synopsis: '[--file dev-vault.yaml] [--listen HOST:PORT | --socket PATH] [--audit-log FILE]',
  summary: 'run the development vault alone (DEVELOPMENT ONLY: secrets in a YAML file)',
  description: [
    'Run the development vault, which speaks the SanctumAI vault protocol with agents, credentials\n' +
      'and policies from a YAML file, until SIGINT or SIGTERM. For development and tests only.',
  ],
  positionals: { min: 0, max: 0 },
  flags: {
    file: { type: 'string', short: 'f', arg: 'FILE', default: 'dev-vault.yaml', help: 'the vault definition (agents, credentials, policies)' },
    listen: { type: 'string', short: 'l', arg: 'HOST:PORT', defaultText: 'listen: in the file, else 127.0.0.1:7600', help: 'listen on TCP' },
    socket: { type: 'string', short: 's', arg: 'PATH', help: 'listen on a Unix socket instead of TCP' },
    'audit-log': { type: 'string', arg: 'FILE', help: 'append one JSON line per vault operation (never a secret)' },
  },
} as const satisfies CommandSpec;

export async function runDevVaultCommand(args: string[], io: DevVaultCommandIo = {}): Promise<number> {
  const p = parseCommand(DEV_VAULT_SPEC, args, io.env ?? process.env, io);
  if (typeof p === 'number') return p;
  const { values, fail, stderr } = p;
  // Imported here, not at the top: a running sidecar loads this dispatcher but never the dev vault.
  const { parseListen, DevVaultConfigError } = await import('../devvault/config.js');
  const { startDevVault } = await import('../devvault/server.js');
  if (values.listen !== undefined && values.socket !== undefined) return fail('give --listen or --socket, not both');
  const listen = values.listen !== undefined ? parseListen(values.listen) : undefined;
  if (values.listen !== undefined && listen === undefined) return fail(`--listen must be HOST:PORT, got "${values.listen}"`);
  const file = p.setting('file') ?? 'dev-vault.yaml';
  if (!existsSync(file)) return fail(`cannot find ${file}; pass --file PATH (an example ships with sanctum-sidecar: ${packagePath('dev-vault.yaml')})`);

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
  stderr.write('sanctum-sidecar dev-vault: stopped\n');
  return 0;
}
