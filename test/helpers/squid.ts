/**
 * A real squid for the upstream-proxy tests: started in the foreground (`squid -N`) on
 * 127.0.0.1 with a free port and a throwaway directory for its pid, cache and access
 * logs; stopped (and restartable) by the test. Loopback only: squid resolves names from
 * its own hosts file and asks no DNS server but 127.0.0.1.
 *
 * The access log records every request head squid received (`%>h`), so a test can
 * search it for a credential. CONNECT is allowed to any port (squid's default allows
 * only 443), Basic auth is checked with `basic_ncsa_auth` against an htpasswd file
 * written here, and `deny` lists destinations squid answers 403 for.
 *
 * When squid is not installed the tests skip with `SQUID_MISSING` as the reason
 * (.ci/run installs it).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SQUID_BINARIES = ['/usr/sbin/squid', '/usr/local/sbin/squid'];
const NCSA_HELPERS = ['/usr/lib/squid/basic_ncsa_auth', '/usr/lib64/squid/basic_ncsa_auth', '/usr/libexec/squid/basic_ncsa_auth'];

function findSquid(): string | null {
  for (const p of SQUID_BINARIES) if (existsSync(p)) return p;
  const which = spawnSync('sh', ['-c', 'command -v squid'], { encoding: 'utf8' });
  return which.status === 0 && which.stdout.trim() !== '' ? which.stdout.trim() : null;
}

const SQUID = findSquid();

/** The skip reason for node:test, or false when squid is available. */
export const SQUID_MISSING: string | false = SQUID === null ? 'squid is not installed (apt-get install -y squid; .ci/run installs it)' : false;

export interface SquidOptions {
  /** Require Basic auth with these user → password pairs. */
  readonly users?: Readonly<Record<string, string>>;
  /** Names squid resolves itself (its hosts file): name → IP address (loopback in tests). */
  readonly hosts?: Readonly<Record<string, string>>;
  /** Destination names squid refuses with 403. */
  readonly deny?: readonly string[];
}

export interface AccessEntry {
  /** e.g. TCP_TUNNEL/200, TCP_DENIED/407, TCP_MISS/200 */
  readonly result: string;
  readonly method: string;
  readonly url: string;
  /** The request head squid received, as logged (\r\n escaped). */
  readonly headers: string;
}

export interface Squid {
  readonly port: number;
  readonly url: string;
  /** The access log as written so far (every line). */
  accessLog(): Promise<string>;
  entries(): Promise<AccessEntry[]>;
  /** Wait until the access log has an entry matching `pred` (squid writes it when a transaction ends). */
  waitForEntry(pred: (e: AccessEntry) => boolean, ms?: number): Promise<AccessEntry>;
  /** Wait until at least `n` entries match `pred`; returns how many match then. */
  waitForCount(pred: (e: AccessEntry) => boolean, n: number, ms?: number): Promise<number>;
  /** Stop squid (the port then refuses connections: "squid down"). */
  stop(): Promise<void>;
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function htpasswdLine(user: string, password: string): string {
  const r = spawnSync('openssl', ['passwd', '-apr1', password], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl passwd failed: ${r.stderr}`);
  return `${user}:${r.stdout.trim()}`;
}

function config(dir: string, port: number, o: SquidOptions, ncsa: string | null): string {
  const lines = [
    `http_port 127.0.0.1:${port}`,
    `pid_filename ${dir}/squid.pid`,
    'logformat detail %ts.%03tu %>a %Ss/%03>Hs %rm %ru [%>h]',
    `access_log stdio:${dir}/access.log detail`,
    `cache_log ${dir}/cache.log`,
    'cache_store_log none',
    'cache deny all',
    'cache_mem 8 MB',
    `coredump_dir ${dir}`,
    `hosts_file ${dir}/hosts`,
    // Never a real DNS server: names come from the hosts file (loopback only).
    'dns_nameservers 127.0.0.1',
    'pinger_enable off',
    'shutdown_lifetime 0 seconds',
    'via off',
    'forwarded_for delete',
    'acl CONNECT method CONNECT',
  ];
  if (o.deny !== undefined && o.deny.length > 0) {
    lines.push(`acl denied_dst dstdomain ${o.deny.join(' ')}`, 'http_access deny denied_dst');
  }
  if (o.users !== undefined) {
    lines.push(`auth_param basic program ${ncsa} ${dir}/htpasswd`, 'auth_param basic realm corp', 'acl authed proxy_auth REQUIRED', 'http_access deny !authed');
  }
  lines.push('http_access allow all');
  return `${lines.join('\n')}\n`;
}

function parseEntries(text: string): AccessEntry[] {
  const out: AccessEntry[] = [];
  for (const line of text.split('\n')) {
    const m = /^\S+ \S+ (\S+) (\S+) (\S+) \[(.*)\]$/.exec(line);
    if (m !== null) out.push({ result: m[1]!, method: m[2]!, url: m[3]!, headers: m[4]! });
  }
  return out;
}

export async function startSquid(o: SquidOptions = {}): Promise<Squid> {
  if (SQUID === null) throw new Error('squid is not installed');
  const dir = await mkdtemp(join(tmpdir(), 'sanctum-squid-'));
  // Started as root, squid drops to its own user (proxy): it must be able to write here.
  await chmod(dir, 0o777);
  const hosts = Object.entries(o.hosts ?? {}).map(([name, ip]) => `${ip} ${name}`);
  await writeFile(join(dir, 'hosts'), `${hosts.join('\n')}\n`, { mode: 0o644 });
  let ncsa: string | null = null;
  if (o.users !== undefined) {
    ncsa = NCSA_HELPERS.find((p) => existsSync(p)) ?? null;
    if (ncsa === null) throw new Error('basic_ncsa_auth not found');
    const lines = Object.entries(o.users).map(([u, p]) => htpasswdLine(u, p));
    await writeFile(join(dir, 'htpasswd'), `${lines.join('\n')}\n`, { mode: 0o644 });
  }
  let child: ChildProcess | null = null;
  let port = 0;
  for (let attempt = 0; attempt < 3 && child === null; attempt++) {
    port = await freePort();
    await writeFile(join(dir, 'squid.conf'), config(dir, port, o, ncsa), { mode: 0o644 });
    await rm(join(dir, 'cache.log'), { force: true });
    const c = spawn(SQUID, ['-N', '-f', join(dir, 'squid.conf')], { stdio: 'ignore' });
    if (await ready(c, dir)) child = c;
  }
  if (child === null) throw new Error(`squid did not start; see ${dir}/cache.log`);
  const log = join(dir, 'access.log');
  const accessLog = async (): Promise<string> => (existsSync(log) ? readFile(log, 'utf8') : '');
  const stop = async (): Promise<void> => {
    const c = child;
    child = null;
    if (c === null || c.exitCode !== null) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGTERM');
    const t = setTimeout(() => c.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(t);
  };
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    accessLog,
    entries: async () => parseEntries(await accessLog()),
    async waitForEntry(pred, ms = 5000) {
      const until = Date.now() + ms;
      for (;;) {
        const hit = parseEntries(await accessLog()).find(pred);
        if (hit !== undefined) return hit;
        if (Date.now() > until) throw new Error(`no matching squid access log entry in ${ms} ms:\n${await accessLog()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async waitForCount(pred, n, ms = 5000) {
      const until = Date.now() + ms;
      for (;;) {
        const count = parseEntries(await accessLog()).filter(pred).length;
        if (count >= n) return count;
        if (Date.now() > until) throw new Error(`expected ${n} matching squid access log entries, saw ${count}:\n${await accessLog()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    stop,
    async close() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Wait for "Accepting HTTP Socket connections" in cache.log, or the process to exit (a port clash). */
async function ready(c: ChildProcess, dir: string): Promise<boolean> {
  const until = Date.now() + 15_000;
  while (Date.now() < until) {
    if (c.exitCode !== null || c.signalCode !== null) return false;
    const text = await readFile(join(dir, 'cache.log'), 'utf8').catch(() => '');
    if (text.includes('Accepting HTTP Socket connections')) return true;
    if (/FATAL|commBind|Cannot open HTTP Port/i.test(text)) {
      c.kill('SIGKILL');
      return false;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  c.kill('SIGKILL');
  return false;
}
