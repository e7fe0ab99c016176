/**
 * `sanctum-sidecar ca init --out DIR [--force] [--days N]`: create the TLS interception
 * CA — `ca.crt` (0644, for agents to trust), `ca.key` (0600, for the sidecar only) and
 * `ca-bundle.crt` (the public roots plus the CA, for tools whose CA variable replaces
 * the system store). Refuses to replace an existing CA without --force. Usage errors
 * return 2, failures 1.
 */
import { resolve } from 'node:path';
import { parseCommand, type CommandIo } from './cli-args.js';
import { initCa } from './tls/ca.js';

export type CaIo = CommandIo;

const USAGE = 'usage: sanctum-sidecar ca init --out DIR [--force] [--days N]';

export async function runCaCommand(args: string[], io: CaIo = {}): Promise<number> {
  const cmd = parseCommand('ca', USAGE, args, { out: { type: 'string', short: 'o' }, force: { type: 'boolean' }, days: { type: 'string' } }, io);
  if (typeof cmd === 'number') return cmd;
  const { values, positionals, stdout, fail } = cmd;
  const stderr = io.stderr ?? process.stderr;
  if (positionals[0] !== 'init' || positionals.length !== 1) return fail('the only sub-command is `init`');
  if (values.out === undefined) return fail('--out DIR is required');
  let days: number | undefined;
  if (values.days !== undefined) {
    days = Number(values.days);
    if (!/^[1-9][0-9]{0,4}$/.test(values.days) || days > 36500) return fail('--days must be a whole number of days from 1 to 36500');
  }
  const dir = resolve(values.out);
  try {
    const r = await initCa(dir, { force: values.force === true, ...(days === undefined ? {} : { days }) });
    stdout.write(
      [
        `Interception CA written to ${dir}`,
        `  certificate  ${r.certPath}   (0644: give this to agents)`,
        `  key          ${r.keyPath}    (0600: keep it with the sidecar only)`,
        `  bundle       ${r.bundlePath}   (public roots + this CA, for SSL_CERT_FILE / REQUESTS_CA_BUNDLE)`,
        `  sha256       ${r.fingerprint256}`,
        `  valid until  ${r.notAfter}`,
        '',
        'Enable interception with `tls: { ca_dir: ' + dir + ' }` in routes.yaml (or --ca-dir / SANCTUM_SIDECAR_CA_DIR);',
        '`sanctum-sidecar env --config routes.yaml` prints the variables an agent container needs.',
        '',
      ].join('\n'),
    );
    return 0;
  } catch (err) {
    stderr.write(`ca: ${(err as Error).message}\n`);
    return 1;
  }
}
