/**
 * `sanctum-sidecar ca init --out DIR [--force] [--days N]`: create the TLS interception
 * CA — `ca.crt` (0644, for agents to trust), `ca.key` (0600, for the sidecar only) and
 * `ca-bundle.crt` (the public roots plus the CA, for tools whose CA variable replaces
 * the system store). Refuses to replace an existing CA without --force. Usage errors
 * return 2, failures 1.
 */
import { resolve } from 'node:path';
import { initCa } from '../tls/ca.js';
import { parseCommand, type CommandIo, type CommandSpec } from './flags.js';

export type CaIo = CommandIo;

export const CA_SPEC = {
  name: 'ca',
  synopsis: 'init --out DIR [--force] [--days N]',
  summary: 'create the TLS interception CA (ca.key 0600, ca.crt, ca-bundle.crt)',
  description: [
    'Create the CA the sidecar signs interception certificates with: ca.crt (0644, for agents to\n' +
      'trust), ca.key (0600, for the sidecar only) and ca-bundle.crt (the public roots plus the CA, for\n' +
      'SSL_CERT_FILE / REQUESTS_CA_BUNDLE, which replace the system store). An existing CA is kept\n' +
      'unless --force.',
  ],
  args: [{ name: 'init', help: 'the only sub-command' }],
  positionals: { min: 1, max: 1, countError: 'the only sub-command is `init`' },
  flags: {
    out: { type: 'string', short: 'o', arg: 'DIR', help: 'the directory to write the CA into (required)' },
    force: { type: 'boolean', help: 'replace an existing CA' },
    days: { type: 'string', arg: 'N', default: '3650', help: 'validity of the CA certificate, in days (1 to 36500)' },
  },
} as const satisfies CommandSpec;

export async function runCaCommand(args: string[], io: CaIo = {}): Promise<number> {
  const cmd = parseCommand(CA_SPEC, args, {}, io);
  if (typeof cmd === 'number') return cmd;
  const { values, positionals, stdout, stderr, fail } = cmd;
  if (positionals[0] !== 'init') return fail('the only sub-command is `init`');
  if (values.out === undefined) return fail('--out DIR is required');
  const daysText = cmd.setting('days') ?? '3650';
  const days = Number(daysText);
  if (!/^[1-9][0-9]{0,4}$/.test(daysText) || days > 36500) return fail('--days must be a whole number of days from 1 to 36500');
  const dir = resolve(values.out);
  try {
    const r = await initCa(dir, { force: values.force === true, days });
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
    stderr.write(`sanctum-sidecar ca: ${(err as Error).message}\n`);
    return 1;
  }
}
