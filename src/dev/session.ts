/**
 * The throwaway world of `sanctum-sidecar dev`: a local echo upstream, and a
 * development vault on a Unix socket in a private temporary directory, with a fresh
 * agent key there and development credentials (from the environment when set,
 * e.g. OPENAI_API_KEY, otherwise obvious placeholders). Everything it opens, it
 * closes: `close()` stops the vault and the echo and removes the directory (key
 * included), and a process `exit` hook removes the directory even when the process
 * is ended abruptly (a second signal). The CLI (cli/dev.ts) decides the order.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDevVault, type DevVault } from '../devvault/server.js';
import { publicKeyFromSeed, writeKeyFile } from '../vault/keys.js';
import { startDevEcho } from './echo.js';

export const DEV_AGENT = 'sanctum-dev';

/** Vault path → environment variable that may supply a real value. */
const ENV_CREDENTIALS: Record<string, string> = {
  'openai/api-key': 'OPENAI_API_KEY',
  'anthropic/api-key': 'ANTHROPIC_API_KEY',
  'github/token': 'GITHUB_TOKEN',
  'stripe/secret': 'STRIPE_SECRET_KEY',
};

export interface DevVaultHandle {
  readonly agent: string;
  readonly socket: string;
  readonly keyFile: string;
}

export class DevSession {
  #dir: string | undefined;
  #vault: DevVault | undefined;
  #echo: Awaited<ReturnType<typeof startDevEcho>> | undefined;
  #closing: Promise<void> | undefined;
  readonly #removeDirOnExit = (): void => {
    if (this.#dir !== undefined) rmSync(this.#dir, { recursive: true, force: true });
  };

  /** Start the echo upstream; returns its origin (`http://127.0.0.1:PORT`). */
  async startEcho(port = 0): Promise<string> {
    this.#echo = await startDevEcho('127.0.0.1', port);
    return this.#echo.origin;
  }

  /** Create the private directory and key, and start the vault on a socket there. */
  async startVault(env: NodeJS.ProcessEnv): Promise<DevVaultHandle> {
    const dir = await mkdtemp(join(tmpdir(), 'sanctum-dev-'));
    this.#dir = dir;
    process.once('exit', this.#removeDirOnExit);
    const seed = new Uint8Array(randomBytes(32));
    const keyFile = join(dir, `${DEV_AGENT}.key`);
    await writeKeyFile(keyFile, seed);
    const credentials: Record<string, { value: string }> = {
      'echo/token': { value: `sk-dev-echo-${randomBytes(12).toString('hex')}` },
    };
    for (const [p, name] of Object.entries(ENV_CREDENTIALS)) {
      credentials[p] = { value: env[name] ?? `sk-dev-placeholder-${p.split('/')[0]}` };
    }
    const socket = join(dir, 'vault.sock');
    this.#vault = await startDevVault({
      config: {
        agents: { [DEV_AGENT]: { public_key: Buffer.from(publicKeyFromSeed(seed)).toString('hex') } },
        credentials,
        policies: [{ name: 'dev', principal: `agent:${DEV_AGENT}`, resources: ['*'], actions: ['use', 'retrieve', 'list'] }],
        allow_loopback: true,
      },
      listen: { socket },
      banner: true,
    });
    seed.fill(0);
    return { agent: DEV_AGENT, socket, keyFile };
  }

  /** Stop whatever was started and remove the directory; safe to call more than once. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    await this.#vault?.close().catch(() => undefined);
    const echo = this.#echo;
    if (echo !== undefined) {
      await new Promise<void>((r) => {
        echo.server.close(() => r());
        echo.server.closeAllConnections();
      });
    }
    if (this.#dir !== undefined) await rm(this.#dir, { recursive: true, force: true });
    this.#dir = undefined;
    process.off('exit', this.#removeDirOnExit);
  }
}
