/**
 * Child processes for the benchmark: spawn pinned to a CPU (when `taskset` exists),
 * each in its own process group so that a server and its workers stop together;
 * wait for readiness; sample memory from /proc; and stop everything we started on
 * any exit path. Only processes started here are ever signalled, and only by pid.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, createWriteStream, existsSync, openSync, readdirSync, readFileSync, type WriteStream } from 'node:fs';
import net from 'node:net';
import { delimiter, join } from 'node:path';

/** Absolute path of an executable on PATH (plus the sbin dirs Debian uses), or undefined. */
export function which(cmd: string): string | undefined {
  const dirs = (process.env.PATH ?? '').split(delimiter).concat(['/usr/sbin', '/sbin', '/usr/local/sbin']);
  for (const d of dirs) {
    if (!d) continue;
    const p = join(d, cmd);
    if (existsSync(p)) return p;
  }
  return undefined;
}

export interface Spawned {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly pid: number;
  readonly logPath: string;
  /** Everything written to stdout and stderr so far (bounded). */
  output(): string;
  /** Resolves with the first match of `re` in the output, or rejects after `timeoutMs` or on exit. */
  waitFor(re: RegExp, timeoutMs: number): Promise<RegExpExecArray>;
  readonly exited: Promise<number | null>;
  exitCode(): number | null | undefined;
}

export interface SpawnOptions {
  /** CPU to pin to with `taskset -c`; ignored when pinning is off or taskset is missing. */
  readonly cpu?: number | undefined;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /**
   * Send stdout to this file instead of a pipe the harness reads: a sidecar logging a
   * line per request writes thousands a second, and reading them would cost the
   * harness CPU beside the load generator.
   */
  readonly stdoutFile?: string;
}

const MAX_OUTPUT = 256 * 1024;

/** Tracks every process the harness starts, so that all of them can be stopped. */
export class Processes {
  private readonly live = new Set<Spawned>();
  private readonly taskset: string | undefined;

  constructor(
    private readonly logDir: string,
    pin: boolean,
  ) {
    this.taskset = pin ? which('taskset') : undefined;
  }

  get pinning(): boolean {
    return this.taskset !== undefined;
  }

  spawn(name: string, cmd: string, args: readonly string[], opts: SpawnOptions = {}): Spawned {
    let file = cmd;
    let argv = [...args];
    if (this.taskset && opts.cpu !== undefined) {
      // taskset execs the command, so the pid we get is the server's own pid.
      file = this.taskset;
      argv = ['-c', String(opts.cpu), cmd, ...args];
    }
    const logPath = join(this.logDir, `${name}.log`);
    const log: WriteStream = createWriteStream(logPath);
    const stdoutFd = opts.stdoutFile === undefined ? undefined : openSync(opts.stdoutFile, 'w');
    const proc = spawn(file, argv, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      // stdin stays an open pipe: our node children exit when it closes (harness gone).
      stdio: ['pipe', stdoutFd ?? 'pipe', 'pipe'],
      detached: true,
    });
    if (stdoutFd !== undefined) closeSync(stdoutFd); // the child holds its own copy
    if (proc.pid === undefined) throw new Error(`could not start ${name} (${cmd})`);
    let out = '';
    const waiters = new Set<() => void>();
    const onData = (d: Buffer): void => {
      log.write(d);
      out += d.toString();
      if (out.length > MAX_OUTPUT) out = out.slice(-MAX_OUTPUT);
      for (const w of waiters) w();
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
    proc.stdin?.on('error', () => {});
    let code: number | null | undefined;
    const exited = new Promise<number | null>((resolve) => {
      proc.on('exit', (c, sig) => {
        code = c ?? (sig ? -1 : null);
        resolve(code);
        for (const w of waiters) w();
      });
      proc.on('error', (err) => {
        out += `\n[spawn error] ${err.message}\n`;
        code = -1;
        resolve(-1);
        for (const w of waiters) w();
      });
    });
    const child: Spawned = {
      name,
      proc,
      pid: proc.pid,
      logPath,
      output: () => out,
      exited,
      exitCode: () => code,
      waitFor: (re, timeoutMs) =>
        new Promise((resolve, reject) => {
          const check = (): void => {
            const m = re.exec(out);
            if (m) {
              done();
              resolve(m);
            } else if (code !== undefined) {
              done();
              reject(new Error(`${name} exited (${code}) before ${re}; output:\n${out.slice(-2000)}`));
            }
          };
          const timer = setTimeout(() => {
            done();
            reject(new Error(`${name}: timed out after ${timeoutMs} ms waiting for ${re}; output:\n${out.slice(-2000)}`));
          }, timeoutMs);
          const done = (): void => {
            clearTimeout(timer);
            waiters.delete(check);
          };
          waiters.add(check);
          check();
        }),
    };
    this.live.add(child);
    void exited.then(() => {
      this.live.delete(child);
      log.end();
    });
    return child;
  }

  /** SIGTERM (or `signal`) to the child's process group; SIGKILL after `graceMs`. */
  async stop(child: Spawned, signal: NodeJS.Signals = 'SIGTERM', graceMs = 3000): Promise<number | null> {
    if (child.exitCode() !== undefined) return child.exited;
    signalGroup(child.pid, signal);
    const timer = setTimeout(() => signalGroup(child.pid, 'SIGKILL'), graceMs);
    const code = await child.exited;
    clearTimeout(timer);
    // Workers of a server (nginx) may outlive the master by a moment.
    signalGroup(child.pid, 'SIGKILL');
    return code;
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.live].map((c) => this.stop(c)));
  }

  /** Synchronous last resort for `process.on('exit')`. */
  killAllNow(): void {
    for (const c of this.live) signalGroup(c.pid, 'SIGKILL');
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
}

/** Runs a command to completion with a time bound; returns its status and output. */
export function runSync(
  cmd: string,
  args: readonly string[],
  timeoutMs: number,
  opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
  });
  return { status: r.status, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
}

/** A free TCP port on 127.0.0.1 (bound, read, released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = addr && typeof addr === 'object' ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Resolves once 127.0.0.1:port accepts a TCP connection; rejects after timeoutMs. */
export async function waitForPort(port: number, timeoutMs: number, child?: Spawned): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
      s.setTimeout(500, () => {
        s.destroy();
        resolve(false);
      });
    });
    if (ok) return;
    if (child && child.exitCode() !== undefined) {
      throw new Error(`${child.name} exited (${child.exitCode()}); output:\n${child.output().slice(-2000)}`);
    }
    if (Date.now() > deadline) throw new Error(`port ${port} not open after ${timeoutMs} ms`);
    await sleep(50);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export interface Memory {
  /** Resident set size now, bytes. */
  readonly rss: number;
  /** Peak resident set size since the process started (VmHWM), bytes. */
  readonly hwm: number;
}

/** VmRSS and VmHWM of a live process, from /proc; undefined when unavailable. */
export function memoryOf(pid: number): Memory | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const rss = /VmRSS:\s+(\d+)\s+kB/.exec(text)?.[1];
  const hwm = /VmHWM:\s+(\d+)\s+kB/.exec(text)?.[1];
  if (!rss || !hwm) return undefined;
  return { rss: Number(rss) * 1024, hwm: Number(hwm) * 1024 };
}

/** Samples a process's VmRSS every `intervalMs` until stopped; keeps the maximum. */
export class RssSampler {
  private maxRss = 0;
  private samples = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly pid: number,
    intervalMs = 25,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  private sample(): void {
    const m = memoryOf(this.pid);
    if (!m) return;
    this.samples += 1;
    if (m.rss > this.maxRss) this.maxRss = m.rss;
  }

  /** Stops sampling; returns the sampled peak and the kernel's high-water mark. */
  stop(): { maxRss: number; hwm: number; samples: number } {
    clearInterval(this.timer);
    this.sample();
    return { maxRss: this.maxRss, hwm: memoryOf(this.pid)?.hwm ?? 0, samples: this.samples };
  }
}

let clkTck: number | undefined;
function ticksPerSecond(): number {
  if (clkTck === undefined) {
    const r = runSync('getconf', ['CLK_TCK'], 5000);
    const n = Number(r.stdout.trim());
    clkTck = r.status === 0 && n > 0 ? n : 100;
  }
  return clkTck;
}

function descendants(pid: number, out: number[], depth = 0): void {
  out.push(pid);
  if (depth > 4) return;
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return;
  }
  for (const tid of tids) {
    let kids = '';
    try {
      kids = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8');
    } catch {
      continue;
    }
    for (const k of kids.split(/\s+/).filter(Boolean)) descendants(Number(k), out, depth + 1);
  }
}

/**
 * CPU time (user + system, all threads) used so far by a process and its descendants
 * (nginx's workers), in milliseconds; undefined when /proc is unavailable. CPU per
 * request is far steadier than throughput on a machine shared with other work.
 */
export function cpuMsOf(pid: number): number | undefined {
  const pids: number[] = [];
  descendants(pid, pids);
  let ticks = 0;
  let seen = false;
  for (const p of pids) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${p}/stat`, 'utf8');
    } catch {
      continue;
    }
    // Fields after the command name (which may contain spaces) start at field 3.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(rest[11] ?? 0) + Number(rest[12] ?? 0); // utime, stime (fields 14, 15)
    seen = true;
  }
  return seen ? (ticks * 1000) / ticksPerSecond() : undefined;
}
