/**
 * The development vault: a listener speaking the SanctumAI protocol (dialect A,
 * plus B) from a dev-vault.yaml, for `sanctum-sidecar dev`, `dev-vault` and tests.
 * It shares the framing codec with the client and binds loopback unless told
 * otherwise. Garbage on one connection closes that connection only.
 *
 * DEVELOPMENT ONLY: secrets sit in plain memory, read from a YAML file.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { connect, createServer, isIP, type Server, type Socket } from 'node:net';
import { encodeFrame, FrameDecoder } from '../vault/framing.js';
import { VaultFrameTooLargeError } from '../vault/errors.js';
import { AuditLog, type AuditEntry } from './audit.js';
import { type DevVaultConfig, type ListenAddress, loadDevVaultFile, settingsFromConfig } from './config.js';
import { Fault } from './fault.js';
import { dispatch, RateLimiter, type VaultContext } from './handlers.js';
import { ConnectionSession } from './sessions.js';

export type { AuditEntry } from './audit.js';
export type { DevVaultConfig } from './config.js';

export interface StartDevVaultOptions {
  /** Path of a dev-vault.yaml. */
  file?: string;
  /** The same shape, already parsed; used when `file` is absent. */
  config?: DevVaultConfig;
  /** Overrides listen/socket from the file. Default 127.0.0.1:7600. */
  listen?: ListenAddress;
  auditLog?: string | NodeJS.WritableStream;
  /** Overrides session_ttl (tests force SESSION_EXPIRED with a short one). */
  sessionTtlMs?: number;
  challengeTtlMs?: number;
  /** For `{env: VAR}` credentials. Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Print the DEVELOPMENT-ONLY banner on stderr. */
  banner?: boolean;
  /** Operational lines (listening, closed connections). Default: stderr when banner is set, else silent. */
  log?: (line: string) => void;
}

export interface DevVault {
  address: ListenAddress;
  close(): Promise<void>;
  /** A locked vault answers VAULT_LOCKED to use and retrieve. */
  setLocked(locked: boolean): void;
  /** Postpone every answer by `ms` (fault tests). */
  setDelay(ms: number): void;
  setCredential(path: string, value: string): void;
  /** End every current session now; the next call on each gets SESSION_EXPIRED. */
  expireSessions(): void;
  readonly audit: readonly AuditEntry[];
}

const DEFAULT_LISTEN = { host: '127.0.0.1', port: 7600 };

export async function startDevVault(opts: StartDevVaultOptions = {}): Promise<DevVault> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? (opts.banner ? (l: string) => process.stderr.write(l + '\n') : () => undefined);
  const settings = opts.file !== undefined ? await loadDevVaultFile(opts.file, env) : settingsFromConfig(opts.config ?? {}, env);
  if (opts.sessionTtlMs !== undefined) settings.sessionTtlMs = opts.sessionTtlMs;
  if (opts.challengeTtlMs !== undefined) settings.challengeTtlMs = opts.challengeTtlMs;
  for (const [path, c] of settings.credentials) {
    if (c.value === undefined) log(`dev vault: credential "${path}" reads ${c.env}, which is not set; it will answer CREDENTIAL_NOT_FOUND`);
  }

  const closing = new AbortController();
  const ctx: VaultContext = {
    settings,
    locked: false,
    leases: new Map(),
    processKey: randomBytes(32),
    rate: settings.ratePerSecond !== undefined ? new RateLimiter(settings.ratePerSecond) : undefined,
    audit: new AuditLog(opts.auditLog),
    closing: closing.signal,
  };
  const sockets = new Set<Socket>();
  const sessions = new Set<ConnectionSession>();
  const delays = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  let delayMs = 0;

  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const d = { timer: setTimeout(() => (delays.delete(d), resolve()), ms), resolve };
      delays.add(d);
    });

  const server = createServer((socket) => {
    const session = new ConnectionSession();
    const decoder = new FrameDecoder();
    sockets.add(socket);
    sessions.add(session);
    socket.setNoDelay(true);
    socket.on('error', () => undefined); // a client that resets is not our problem
    socket.on('close', () => {
      sockets.delete(socket);
      sessions.delete(session);
    });
    const send = (id: number, answer: object): void => {
      if (socket.destroyed) return;
      let frame: Buffer;
      try {
        frame = encodeFrame({ id, ...answer });
      } catch (err) {
        if (!(err instanceof VaultFrameTooLargeError)) throw err;
        frame = encodeFrame({ id, error: new Fault('RESPONSE_TOO_LARGE', err.message).toWire() });
      }
      socket.write(frame);
    };
    const serve = async (msg: unknown): Promise<void> => {
      const m = msg as Record<string, unknown> | null;
      const id = m !== null && typeof m === 'object' ? m.id : undefined;
      if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0 || typeof m!.method !== 'string') {
        log('dev vault: request without a numeric id and a method; closing the connection');
        socket.destroy();
        return;
      }
      const params = m!.params ?? {};
      const answer =
        typeof params === 'object' && params !== null && !Array.isArray(params)
          ? await dispatch(ctx, session, m!.method, params as Record<string, unknown>, log)
          : { error: new Fault('INVALID_PARAMS', 'params must be an object').toWire() };
      if (delayMs > 0) await sleep(delayMs);
      send(id, answer);
    };
    socket.on('data', (chunk: Buffer) => {
      let messages: unknown[];
      try {
        messages = decoder.push(chunk);
      } catch (err) {
        log(`dev vault: ${(err as Error).message}; closing that connection`);
        socket.destroy();
        return;
      }
      for (const msg of messages) {
        serve(msg).catch((err: unknown) => {
          log(`dev vault: failed to answer: ${(err as Error).message}`);
          socket.destroy();
        });
      }
    });
  });

  const listen = opts.listen ?? settings.listen ?? DEFAULT_LISTEN;
  const address = await bind(server, listen, log);
  // The banner goes to stderr, or to the caller's log when it has one (the CLI's stream).
  if (opts.banner) (opts.log ?? ((l: string) => process.stderr.write(l + '\n')))(banner(address));
  else log(`dev vault listening on ${describe(address)}`);

  let closed: Promise<void> | null = null;
  return {
    address,
    get audit() {
      return ctx.audit.entries;
    },
    setLocked: (locked) => void (ctx.locked = locked),
    setDelay: (ms) => void (delayMs = Math.max(0, ms)),
    setCredential: (path, value) => void settings.credentials.set(path, { value, env: undefined, type: undefined, tags: undefined }),
    expireSessions: () => sessions.forEach((s) => s.expire()),
    close: () =>
      (closed ??= (async () => {
        closing.abort();
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const s of sockets) s.destroy();
        for (const d of delays) {
          clearTimeout(d.timer);
          d.resolve();
        }
        delays.clear();
        await stopped;
        await ctx.audit.close();
      })()),
  };
}

async function bind(server: Server, listen: ListenAddress, log: (l: string) => void): Promise<ListenAddress> {
  if ('socket' in listen) {
    await removeStaleSocket(listen.socket);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listen.socket, () => (server.off('error', reject), resolve()));
    });
    await fs.chmod(listen.socket, 0o600);
    return { socket: listen.socket };
  }
  if (!isLoopback(listen.host)) log(`dev vault: WARNING listening on ${listen.host}, which is not loopback: anyone who can reach it can try keys`);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => (server.off('error', reject), resolve()));
  });
  const a = server.address();
  return typeof a === 'object' && a !== null ? { host: a.address, port: a.port } : listen;
}

/** A socket file left by a dev vault that died is removed; one that still answers is not. */
async function removeStaleSocket(path: string): Promise<void> {
  const st = await fs.lstat(path).catch(() => null);
  if (st === null) return;
  if (!st.isSocket()) throw new Error(`dev vault: ${path} exists and is not a socket`);
  const alive = await new Promise<boolean>((resolve) => {
    const s = connect({ path });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
  if (alive) throw new Error(`dev vault: ${path} is in use by another process`);
  await fs.unlink(path);
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

function describe(a: ListenAddress): string {
  return 'socket' in a ? `unix:${a.socket}` : `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
}

function banner(a: ListenAddress): string {
  const line = '#'.repeat(72);
  return [
    line,
    '#  SANCTUM DEVELOPMENT VAULT  --  DEVELOPMENT ONLY, NOT FOR PRODUCTION',
    '#  Secrets are held in plain memory, read from a YAML file. Use the real',
    '#  SanctumAI vault for anything that matters.',
    `#  Listening on ${describe(a)}`,
    line,
  ].join('\n');
}
