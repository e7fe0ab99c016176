/**
 * The anchor proxies a user might pick instead of the sidecar, each from Debian's
 * packages, each started on a loopback ephemeral port from its own temporary config,
 * pinned to the sidecar's CPU and configured to inject the same static
 * `Authorization: Bearer` header:
 *
 * - nginx: a reverse proxy with `proxy_set_header` and an upstream keep-alive pool;
 * - tinyproxy: a forward proxy with `AddHeader`;
 * - mitmdump: a forward proxy with a one-line addon.
 *
 * When a binary is missing the anchor is skipped with the command that installs it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, type Processes, runSync, type Spawned, waitForPort, which } from './proc.js';

export type AnchorName = 'nginx' | 'tinyproxy' | 'mitmdump';
export const ANCHORS: readonly AnchorName[] = ['nginx', 'tinyproxy', 'mitmdump'];

const PACKAGE: Record<AnchorName, string> = { nginx: 'nginx', tinyproxy: 'tinyproxy', mitmdump: 'mitmproxy' };

export interface AnchorRunning {
  readonly name: AnchorName;
  readonly child: Spawned;
  readonly port: number;
  /** reverse: origin-form requests to the proxy; forward: absolute-form to the upstream. */
  readonly kind: 'reverse' | 'forward';
  readonly version: string;
}

export interface AnchorContext {
  readonly procs: Processes;
  readonly dir: string;
  readonly cpu: number | undefined;
  readonly upstreamPort: number;
  readonly token: string;
}

/** Installed anchors, and for each missing one a note with its install command. */
export function findAnchors(): { present: AnchorName[]; missing: { name: AnchorName; note: string }[] } {
  const present: AnchorName[] = [];
  const missing: { name: AnchorName; note: string }[] = [];
  for (const a of ANCHORS) {
    if (which(a)) present.push(a);
    else missing.push({ name: a, note: `${a} not installed: skipped (apt-get install -y ${PACKAGE[a]})` });
  }
  return { present, missing };
}

export async function startAnchor(name: AnchorName, ctx: AnchorContext): Promise<AnchorRunning> {
  const dir = join(ctx.dir, name);
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  switch (name) {
    case 'nginx':
      return startNginx(ctx, dir, port);
    case 'tinyproxy':
      return startTinyproxy(ctx, dir, port);
    case 'mitmdump':
      return startMitmdump(ctx, dir, port);
  }
}

function firstLine(s: string): string {
  return (s.split('\n').find((l) => l.trim()) ?? '').trim();
}

async function startNginx(ctx: AnchorContext, dir: string, port: number): Promise<AnchorRunning> {
  const bin = which('nginx') ?? 'nginx';
  for (const d of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, d), { recursive: true });
  const isRoot = process.getuid?.() === 0;
  const conf = `# written by bench/lib/anchors.ts
${isRoot ? 'user root;' : ''}
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_requests 1000000;
  keepalive_timeout 120s;
  upstream bench_upstream {
    server 127.0.0.1:${ctx.upstreamPort};
    keepalive 64;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://bench_upstream;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Authorization "Bearer ${ctx.token}";
    }
  }
}
`;
  const confPath = join(dir, 'nginx.conf');
  writeFileSync(confPath, conf);
  const version = firstLine(runSync(bin, ['-v'], 5000).stderr);
  const child = ctx.procs.spawn('nginx', bin, ['-p', dir, '-e', join(dir, 'error.log'), '-c', confPath], {
    cpu: ctx.cpu,
  });
  await waitForPort(port, 10_000, child);
  return { name: 'nginx', child, port, kind: 'reverse', version };
}

async function startTinyproxy(ctx: AnchorContext, dir: string, port: number): Promise<AnchorRunning> {
  const bin = which('tinyproxy') ?? 'tinyproxy';
  const isRoot = process.getuid?.() === 0;
  const conf = `# written by bench/lib/anchors.ts
${isRoot ? 'User root\nGroup root' : ''}
Port ${port}
Listen 127.0.0.1
Timeout 30
MaxClients 512
LogLevel Critical
LogFile "${dir}/tinyproxy.log"
PidFile "${dir}/tinyproxy.pid"
DisableViaHeader Yes
AddHeader "Authorization" "Bearer ${ctx.token}"
`;
  const confPath = join(dir, 'tinyproxy.conf');
  writeFileSync(confPath, conf);
  const version = firstLine(runSync(bin, ['-v'], 5000).stdout);
  const child = ctx.procs.spawn('tinyproxy', bin, ['-d', '-c', confPath], { cpu: ctx.cpu });
  await waitForPort(port, 10_000, child);
  return { name: 'tinyproxy', child, port, kind: 'forward', version };
}

async function startMitmdump(ctx: AnchorContext, dir: string, port: number): Promise<AnchorRunning> {
  const bin = which('mitmdump') ?? 'mitmdump';
  const addon = join(dir, 'inject.py');
  writeFileSync(addon, `def request(flow): flow.request.headers["Authorization"] = "Bearer ${ctx.token}"\n`);
  const version = firstLine(runSync(bin, ['--version'], 20_000).stdout);
  const child = ctx.procs.spawn(
    'mitmdump',
    bin,
    ['--listen-host', '127.0.0.1', '--listen-port', String(port), '-q', '-s', addon, '--set', `confdir=${dir}`],
    { cpu: ctx.cpu, env: { ...process.env, HOME: dir } },
  );
  await waitForPort(port, 30_000, child);
  return { name: 'mitmdump', child, port, kind: 'forward', version };
}
