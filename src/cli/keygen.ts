/**
 * `sanctum-sidecar keygen <agent> [--out FILE] [--encrypt] [--force]`: a fresh
 * Ed25519 seed in `~/.sanctum/keys/<agent>.key` (mode 0600, directory 0700), or
 * `<agent>.key.enc` with --encrypt (passphrase from SANCTUM_KEY_PASSPHRASE or a
 * prompt). Prints the public key and how to register it. Usage errors return 2.
 */
import { randomBytes } from 'node:crypto';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { KeyFileError } from '../vault/errors.js';
import { bytesToHex } from '../vault/hex.js';
import { isEncryptedKeyPath, publicKeyFromSeed, writeKeyFile } from '../vault/keys.js';
import { parseCommand, type CommandSpec } from './flags.js';

export interface KeygenIo {
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  env?: NodeJS.ProcessEnv;
  /** Default os.homedir(). */
  home?: string;
  /** Prompt for the passphrase; default: a hidden TTY prompt when stdin is a TTY. */
  prompt?: (question: string) => Promise<string>;
}

export const KEYGEN_SPEC = {
  name: 'keygen',
  synopsis: '<agent> [--out FILE] [--encrypt] [--force]',
  summary: "create an agent's Ed25519 key file (0600) and print the public key to register",
  description: [
    "Create a fresh Ed25519 key for <agent> and print its public key (hex) and how to register it.\n" +
      'With --encrypt the key is encrypted with a passphrase from SANCTUM_KEY_PASSPHRASE, or asked for\n' +
      'twice on the terminal.',
  ],
  args: [{ name: '<agent>', help: "the agent's name: letters, digits, '.', '_' or '-'" }],
  positionals: { min: 1, max: 1, countError: 'give exactly one agent name' },
  flags: {
    out: { type: 'string', short: 'o', arg: 'FILE', defaultText: '~/.sanctum/keys/<agent>.key (.key.enc with --encrypt)', help: 'where to write the key' },
    encrypt: { type: 'boolean', help: 'encrypt the key file (passphrase from SANCTUM_KEY_PASSPHRASE, else a prompt)' },
    force: { type: 'boolean', help: 'replace an existing key file' },
  },
} as const satisfies CommandSpec;
/** The agent name becomes a file name: keep it to a safe alphabet. */
const AGENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export async function runKeygenCommand(args: string[], io: KeygenIo = {}): Promise<number> {
  const env = io.env ?? process.env;
  const cmd = parseCommand(KEYGEN_SPEC, args, env, io);
  if (typeof cmd === 'number') return cmd;
  const { values, positionals, stdout, fail } = cmd;
  const agent = positionals[0]!;
  if (!AGENT.test(agent)) return fail(`agent name "${agent}" must be letters, digits, '.', '_' or '-'`);
  const file = resolve(values.out ?? join(io.home ?? homedir(), '.sanctum', 'keys', `${agent}.key${values.encrypt ? '.enc' : ''}`));
  if (values.encrypt && !isEncryptedKeyPath(file)) return fail('with --encrypt the file name must end in .enc (e.g. agent.key.enc), so loaders know to decrypt it');
  if (!values.encrypt && isEncryptedKeyPath(file)) return fail('a file name ending in .enc is read as encrypted: add --encrypt or choose another name');

  let passphrase: string | undefined;
  if (values.encrypt) {
    passphrase = env.SANCTUM_KEY_PASSPHRASE;
    if (passphrase === undefined || passphrase === '') {
      const ask = io.prompt ?? (process.stdin.isTTY ? hiddenPrompt : undefined);
      if (ask === undefined) return fail('--encrypt needs a passphrase: set SANCTUM_KEY_PASSPHRASE or run in a terminal');
      passphrase = await ask('Passphrase: ');
      if ((await ask('Repeat passphrase: ')) !== passphrase) return fail('the passphrases do not match');
      if (passphrase === '') return fail('the passphrase is empty');
    }
  }

  const seed = new Uint8Array(randomBytes(32));
  try {
    await writeKeyFile(file, seed, { ...(passphrase !== undefined ? { encrypt: passphrase } : {}), force: values.force === true });
  } catch (err) {
    if (err instanceof KeyFileError) return fail(err.message + (err.suggestion ? ` ${err.suggestion}` : ''));
    throw err;
  }
  const publicKey = bytesToHex(publicKeyFromSeed(seed));
  seed.fill(0);
  stdout.write(
    `${publicKey}\n` +
      `Wrote ${file} (mode 0600).\n` +
      `Register the public key with the vault; for the development vault add to dev-vault.yaml:\n` +
      `  agents:\n    ${agent}: { public_key: ${publicKey} }\n`,
  );
  return 0;
}

/** Read a line from the terminal without echoing it. */
function hiddenPrompt(question: string): Promise<string> {
  return new Promise((resolveAnswer) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    const out = rl as unknown as { _writeToOutput?: (s: string) => void };
    process.stderr.write(question);
    out._writeToOutput = () => undefined; // mute the echo of typed characters
    rl.question('', (answer) => {
      rl.close();
      process.stderr.write('\n');
      resolveAnswer(answer);
    });
  });
}
