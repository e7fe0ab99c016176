/**
 * Test helper: a development vault with a fresh agent key, ready for a VaultClient.
 * Each call gets its own temp directory (key file mode 0600, optional Unix socket),
 * an allow-all policy unless told otherwise, and allow_loopback so http_request can
 * reach an upstream on 127.0.0.1. `close()` stops the vault and removes the directory.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DevVaultConfig } from '../../src/devvault/config.js';
import { startDevVault, type DevVault } from '../../src/devvault/server.js';
import type { VaultEndpoint } from '../../src/vault/client.js';
import { bytesToHex } from '../../src/vault/hex.js';
import { publicKeyFromSeed, writeKeyFile } from '../../src/vault/keys.js';

export interface TestVaultOptions {
  /** Path → value. */
  credentials?: Record<string, string>;
  /** Default: one policy granting every agent use, retrieve and list on everything. */
  policies?: DevVaultConfig['policies'];
  /** Default true. */
  allowLoopback?: boolean;
  /** Listen on a Unix socket in the temp dir instead of 127.0.0.1:0. */
  socket?: boolean;
  sessionTtlMs?: number;
  /** Default 'test-agent'. */
  agent?: string;
  rateLimitPerSecond?: number;
  auditLog?: string | NodeJS.WritableStream;
  /** The vault's operational log lines; default: discarded. */
  log?: (line: string) => void;
}

export interface TestVault {
  vault: DevVault;
  agent: string;
  keyFile: string;
  seed: Uint8Array;
  endpoint: VaultEndpoint;
  dir: string;
  close(): Promise<void>;
}

export const ALLOW_ALL: NonNullable<DevVaultConfig['policies']> = [
  { name: 'allow-all', principal: 'agent:*', resources: ['*'], actions: ['use', 'retrieve', 'list'] },
];

export async function startTestVault(opts: TestVaultOptions = {}): Promise<TestVault> {
  const agent = opts.agent ?? 'test-agent';
  const dir = await mkdtemp(join(tmpdir(), 'sanctum-tv-'));
  const seed = new Uint8Array(randomBytes(32));
  const keyFile = join(dir, `${agent}.key`);
  await writeKeyFile(keyFile, seed);
  const credentials: NonNullable<DevVaultConfig['credentials']> = {};
  for (const [path, value] of Object.entries(opts.credentials ?? {})) credentials[path] = { value };
  let vault: DevVault;
  try {
    vault = await startDevVault({
      config: {
        agents: { [agent]: { public_key: bytesToHex(publicKeyFromSeed(seed)) } },
        credentials,
        policies: opts.policies ?? ALLOW_ALL,
        allow_loopback: opts.allowLoopback ?? true,
        ...(opts.rateLimitPerSecond !== undefined ? { rate_limit: { per_second: opts.rateLimitPerSecond } } : {}),
      },
      listen: opts.socket ? { socket: join(dir, 'vault.sock') } : { host: '127.0.0.1', port: 0 },
      ...(opts.sessionTtlMs !== undefined ? { sessionTtlMs: opts.sessionTtlMs } : {}),
      ...(opts.auditLog !== undefined ? { auditLog: opts.auditLog } : {}),
      banner: false,
      log: opts.log ?? (() => undefined),
    });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const a = vault.address;
  const endpoint: VaultEndpoint = 'socket' in a ? { socket: a.socket } : { host: a.host, port: a.port };
  return {
    vault,
    agent,
    keyFile,
    seed,
    endpoint,
    dir,
    close: async () => {
      await vault.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
