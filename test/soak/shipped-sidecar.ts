/**
 * The sidecar under soak, started exactly as it ships (`node <shipped flags>
 * dist/main.js run` with the image's environment and, by default, the NODE_OPTIONS the
 * chart derives from its default memory limit) and observed only from outside, so that
 * nothing in the measured process is there for the measurement: memory from
 * /proc/<pid>/status, heap, heap spaces and handles from its own admin `/metrics`
 * (prom-client's default process metrics), and open proxy connections from the
 * kernel's socket table. The process logs to stdout as in a pod; the soak keeps that
 * in a file to search it for credentials afterwards.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { request } from 'undici';
import { SHIPPED_ENV, SHIPPED_NODE_FLAGS } from '../../scripts/shipped-runtime.mjs';

export interface SidecarStats {
  /** VmRSS, and its anonymous and file-backed parts (the node binary's pages are file-backed). */
  readonly rss: number;
  readonly rssAnon: number;
  readonly rssFile: number;
  /** VmHWM: the peak RSS since start. */
  readonly hwm: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  /** Memory outside the V8 heap that V8 knows of (array buffers, socket buffers). */
  readonly external: number;
  /** V8 heap spaces: committed size and used bytes. */
  readonly spaces: Readonly<Record<string, { size: number; used: number }>>;
  /** Active libuv resources by type (TCPSocketWrap, TCPServerWrap, Timeout, ...). */
  readonly handles: Readonly<Record<string, number>>;
  /** Accepted proxy connections not yet closed (the kernel's view, TIME_WAIT excluded). */
  readonly connections: number;
  /** CPU time used so far, user + system, all threads (ms): per exchange it is steadier than throughput on a busy machine. */
  readonly cpuMs: number;
}

export interface ShippedSidecar {
  readonly pid: number;
  readonly proxyPort: number;
  readonly adminPort: number;
  stats(): Promise<SidecarStats>;
  /** SIGTERM (graceful drain), SIGKILL after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
}

export interface StartOptions {
  readonly node: string;
  readonly entry: string;
  readonly configPath: string;
  readonly logPath: string;
  /** NODE_OPTIONS for the child (as the chart sets it); the parent's is never inherited. */
  readonly nodeOptions?: string | undefined;
  /** Extra node flags after the shipped ones, for experiments (printed in the first line). */
  readonly extraFlags?: readonly string[];
}

/** The command line the soak runs, for its first line of output (the environment: see startShippedSidecar). */
export function shippedCommand(o: StartOptions): string[] {
  return [o.node, ...SHIPPED_NODE_FLAGS, ...(o.extraFlags ?? []), o.entry, 'run', '--config', o.configPath];
}

export async function startShippedSidecar(o: StartOptions): Promise<ShippedSidecar> {
  const [cmd, ...args] = shippedCommand(o);
  const env: NodeJS.ProcessEnv = { ...process.env, ...SHIPPED_ENV, NODE_ENV: 'production' };
  delete env.NODE_OPTIONS; // `npm run soak` may carry loader flags (tsx) that the image never has
  if (o.nodeOptions) env.NODE_OPTIONS = o.nodeOptions;
  const child: ChildProcess = spawn(cmd!, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = createWriteStream(o.logPath);
  child.stdout!.pipe(log);
  let head = '';
  let errText = '';
  child.stderr!.on('data', (d: Buffer) => {
    errText = (errText + d.toString()).slice(-4000);
    process.stderr.write(`[sidecar stderr] ${d.toString()}`);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // The start-up line names the bound addresses (the config listens on port 0).
  const addrs = await new Promise<{ proxy: number; admin: number }>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`the sidecar did not start within 30 s: ${errText}`)), 30_000);
    const onData = (d: Buffer): void => {
      head += d.toString();
      const m = /"proxy":"[^"]*:(\d+)","admin":"[^"]*:(\d+)"/.exec(head);
      if (m) {
        clearTimeout(t);
        child.stdout!.off('data', onData);
        resolve({ proxy: Number(m[1]), admin: Number(m[2]) });
      } else if (head.length > 64 * 1024) head = head.slice(-4096);
    };
    child.stdout!.on('data', onData);
    void exited.then((code) => {
      clearTimeout(t);
      reject(new Error(`the sidecar exited during start-up (${code}): ${errText}`));
    });
  });
  const pid = child.pid!;

  return {
    pid,
    proxyPort: addrs.proxy,
    adminPort: addrs.admin,
    async stats(): Promise<SidecarStats> {
      const [status, stat, metrics, connections] = await Promise.all([
        readFile(`/proc/${pid}/status`, 'utf8'),
        readFile(`/proc/${pid}/stat`, 'utf8'),
        request(`http://127.0.0.1:${addrs.admin}/metrics`).then((r) => r.body.text()),
        openConnections(addrs.proxy),
      ]);
      const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
      const gauge = (name: string): number => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(metrics)?.[1] ?? NaN);
      const byLabel = (name: string, label: string): Record<string, number> => {
        const out: Record<string, number> = {};
        for (const m of metrics.matchAll(new RegExp(`^${name}\\{${label}="([^"]+)"\\} (\\S+)`, 'gm'))) out[m[1]!] = Number(m[2]);
        return out;
      };
      const size = byLabel('nodejs_heap_space_size_total_bytes', 'space');
      const used = byLabel('nodejs_heap_space_size_used_bytes', 'space');
      const spaces: Record<string, { size: number; used: number }> = {};
      for (const s of Object.keys(size)) spaces[s] = { size: size[s]!, used: used[s] ?? 0 };
      return {
        rss: kb('VmRSS'),
        rssAnon: kb('RssAnon'),
        rssFile: kb('RssFile'),
        hwm: kb('VmHWM'),
        heapUsed: gauge('nodejs_heap_size_used_bytes'),
        heapTotal: gauge('nodejs_heap_size_total_bytes'),
        external: gauge('nodejs_external_memory_bytes'),
        spaces,
        handles: byLabel('nodejs_active_resources', 'type'),
        connections,
        cpuMs: cpuMs(stat),
      };
    },
    async stop(graceMs = 10_000): Promise<number | null> {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(t);
      await new Promise<void>((r) => log.end(r));
      return code;
    },
  };
}

/** utime + stime (fields 14 and 15 of /proc/<pid>/stat) in ms; USER_HZ is 100 on Linux. */
function cpuMs(stat: string): number {
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) * 10;
}

/**
 * Connections accepted on 127.0.0.1:`port` that the sidecar has not closed yet, from
 * /proc/net/tcp: every state but LISTEN (0A) and TIME_WAIT (06), which no process owns.
 * The soak's own client ends have the port as their remote address, so they do not count.
 */
async function openConnections(port: number): Promise<number> {
  const local = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  let n = 0;
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(f, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 4 || !cols[1]!.endsWith(local)) continue;
      if (cols[3] !== '0A' && cols[3] !== '06') n++;
    }
  }
  return n;
}
