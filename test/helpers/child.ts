/**
 * Runs the real CLI (`src/main.ts run`) as a child process, for tests about the
 * process itself: signals, reload triggers, exit codes, memory. Parses the
 * "listening" log line for the bound ports and keeps every stdout line.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface ChildSidecar {
  readonly proc: ChildProcess;
  readonly proxyPort: number;
  readonly adminPort: number | null;
  readonly lines: string[];
  /** Resolves with the exit code (or signal name) when the process ends. */
  readonly exited: Promise<number | string>;
  stop(): Promise<number | string>;
}

export async function spawnSidecar(args: string[], env: NodeJS.ProcessEnv = {}): Promise<ChildSidecar> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  const lines: string[] = [];
  let stderr = '';
  const exited = new Promise<number | string>((resolve) => proc.once('exit', (code, sig) => resolve(code ?? sig ?? -1)));
  proc.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const ports = await new Promise<{ proxy: number; admin: number | null }>((resolve, reject) => {
    let buf = '';
    proc.stdout!.on('data', (c: Buffer) => {
      buf += c.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        lines.push(line);
        const m = /"proxy":"[^"]*:(\d+)","admin":(?:"[^"]*:(\d+)"|null)/.exec(line);
        if (m) resolve({ proxy: Number(m[1]), admin: m[2] ? Number(m[2]) : null });
      }
    });
    void exited.then((code) => reject(new Error(`sidecar exited (${code}) before listening: ${stderr}`)));
  });
  return {
    proc,
    proxyPort: ports.proxy,
    adminPort: ports.admin,
    lines,
    exited,
    async stop(): Promise<number | string> {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      return exited;
    },
  };
}

/** Poll `check` until it returns true or `limitMs` passes; resolves false on the limit. */
export async function pollUntil(check: () => Promise<boolean> | boolean, limitMs: number, everyMs = 50): Promise<boolean> {
  const end = Date.now() + limitMs;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return check();
}
