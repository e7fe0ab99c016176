/**
 * The anchor proxies a user might pick instead of the sidecar, each from Debian's
 * packages, each started on a loopback ephemeral port from its own temporary config,
 * pinned to the sidecar's CPU (one core each) and configured to inject the same static
 * `Authorization: Bearer` header:
 *
 * - squid: the standard forward proxy, `request_header_add`, one worker, no cache;
 * - caddy: a Go reverse proxy, `reverse_proxy` with a `header_up`-style request header
 *   set, GOMAXPROCS=1 (the class of the Go credential proxies);
 * - haproxy: C, one thread, `http-request set-header`, server connections reused;
 * - nginx: a reverse proxy with `proxy_set_header` and an upstream keep-alive pool;
 * - tinyproxy: a forward proxy with `AddHeader`;
 * - mitmdump: a forward proxy with a one-line addon.
 *
 * When a binary is missing the anchor is skipped with the command that installs it.
 */
import { chmodSync, chownSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { freePort, type Processes, runSync, type Spawned, waitForPort, which } from './proc.js';

export type AnchorName = 'squid' | 'caddy' | 'haproxy' | 'nginx' | 'tinyproxy' | 'mitmdump';
export const ANCHORS: readonly AnchorName[] = ['squid', 'caddy', 'haproxy', 'nginx', 'tinyproxy', 'mitmdump'];

/** The Debian package that provides each anchor (the install hint when it is missing). */
export const ANCHOR_PACKAGE: Record<AnchorName, string> = {
  squid: 'squid',
  caddy: 'caddy',
  haproxy: 'haproxy',
  nginx: 'nginx',
  tinyproxy: 'tinyproxy',
  mitmdump: 'mitmproxy',
};

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
    else missing.push({ name: a, note: `${a} not installed: skipped (apt-get install -y ${ANCHOR_PACKAGE[a]})` });
  }
  return { present, missing };
}

export async function startAnchor(name: AnchorName, ctx: AnchorContext): Promise<AnchorRunning> {
  const dir = join(ctx.dir, name);
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  switch (name) {
    case 'squid':
      return startSquid(ctx, dir, port);
    case 'caddy':
      return startCaddy(ctx, dir, port);
    case 'haproxy':
      return startHaproxy(ctx, dir, port);
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

/** uid and gid of a system user from /etc/passwd, or undefined. */
function systemUser(name: string): { uid: number; gid: number } | undefined {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  const f = line?.split(':');
  return f && f.length > 3 ? { uid: Number(f[2]), gid: Number(f[3]) } : undefined;
}

async function startSquid(ctx: AnchorContext, dir: string, port: number): Promise<AnchorRunning> {
  const bin = which('squid') ?? 'squid';
  // Started as root, squid drops to its own user (Debian: proxy), which must be able to
  // reach and write its directory; the bench's private temp dirs are 0700.
  const user = process.getuid?.() === 0 ? systemUser('proxy') : undefined;
  if (user) {
    for (let d = dirname(dir); d.startsWith(dirname(ctx.dir)) && d !== '/'; d = dirname(d)) chmodSync(d, 0o711);
    chownSync(dir, user.uid, user.gid);
  }
  const conf = `# written by bench/lib/anchors.ts
http_port 127.0.0.1:${port}
acl bench_clients src 127.0.0.1
http_access allow bench_clients
http_access deny all
${user ? 'cache_effective_user proxy' : ''}
workers 1
cache deny all
cache_mem 0 MB
access_log none
cache_store_log none
cache_log ${dir}/cache.log
pid_filename ${dir}/squid.pid
coredump_dir ${dir}
pinger_enable off
via off
forwarded_for delete
shutdown_lifetime 0 seconds
request_header_add Authorization "Bearer ${ctx.token}" all
`;
  const confPath = join(dir, 'squid.conf');
  writeFileSync(confPath, conf);
  const version = firstLine(runSync(bin, ['-v'], 5000).stdout);
  const child = ctx.procs.spawn('squid', bin, ['-N', '-f', confPath], { cpu: ctx.cpu });
  await waitForPort(port, 20_000, child);
  return { name: 'squid', child, port, kind: 'forward', version };
}

async function startCaddy(ctx: AnchorContext, dir: string, port: number): Promise<AnchorRunning> {
  const bin = which('caddy') ?? 'caddy';
  // The JSON form of: reverse_proxy 127.0.0.1:<upstream> { header_up Authorization "Bearer …" }
  const conf = {
    admin: { disabled: true },
    logging: { logs: { default: { level: 'ERROR' } } },
    storage: { module: 'file_system', root: join(dir, 'data') },
    apps: {
      http: {
        servers: {
          bench: {
            listen: [`127.0.0.1:${port}`],
            automatic_https: { disable: true },
            routes: [
              {
                handle: [
                  {
                    handler: 'reverse_proxy',
                    upstreams: [{ dial: `127.0.0.1:${ctx.upstreamPort}` }],
                    headers: { request: { set: { Authorization: [`Bearer ${ctx.token}`] } } },
                  },
                ],
              },
            ],
          },
        },
      },
    },
  };
  const confPath = join(dir, 'caddy.json');
  writeFileSync(confPath, JSON.stringify(conf, null, 2));
  const version = `caddy ${firstLine(runSync(bin, ['version'], 5000).stdout)}`;
  const env = { ...process.env, GOMAXPROCS: '1', HOME: dir, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir };
  const child = ctx.procs.spawn('caddy', bin, ['run', '--config', confPath], { cpu: ctx.cpu, env });
  await waitForPort(port, 20_000, child);
  return { name: 'caddy', child, port, kind: 'reverse', version: `${version}, GOMAXPROCS=1` };
}

async function startHaproxy(ctx: AnchorContext, dir: string, port: number): Promise<AnchorRunning> {
  const bin = which('haproxy') ?? 'haproxy';
  const conf = `# written by bench/lib/anchors.ts
global
  nbthread 1
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  option http-keep-alive
frontend bench
  bind 127.0.0.1:${port}
  default_backend upstream
backend upstream
  http-reuse always
  http-request set-header Authorization "Bearer ${ctx.token}"
  server up 127.0.0.1:${ctx.upstreamPort}
`;
  const confPath = join(dir, 'haproxy.cfg');
  writeFileSync(confPath, conf);
  const version = firstLine(runSync(bin, ['-v'], 5000).stdout).replace(/ - https?:.*$/, '');
  const child = ctx.procs.spawn('haproxy', bin, ['-db', '-f', confPath], { cpu: ctx.cpu });
  await waitForPort(port, 10_000, child);
  return { name: 'haproxy', child, port, kind: 'reverse', version: `${version}, 1 thread` };
}
