/**
 * The admin listener, on its own port: /healthz (alive), /readyz (config loaded and
 * vault authenticated, and not draining), /metrics, /routes (the route table, no
 * secrets: routes hold vault paths, never values) and /explain.
 *
 * /routes and /explain describe agents, routes and vault paths: a map for whoever
 * reaches them. When the admin listener is not on loopback (the Helm chart binds it to
 * 0.0.0.0 for probes and Prometheus), they answer 403 ADMIN_DETAIL_OFF unless
 * routes.yaml says `admin_detail: true`; /healthz, /readyz and /metrics stay.
 *
 * Plain node:http: five read-only GET endpoints do not need a framework, and not
 * loading one keeps about 16 MB off the resident size of a sidecar that runs in every
 * agent pod (measured: fastify alone adds 16 MB RSS at start-up on Node 20).
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from '../node-http.js';
import { listen } from '../listen.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Snapshot } from '../proxy/snapshot.js';
import { explain, type ListenerAddress } from '../routing/explain.js';
import { SidecarError, toReply } from '../errors.js';
import { allowEntryText } from '../config/hosts.js';

export interface AdminDeps {
  readonly snapshot: () => Snapshot;
  readonly metrics: Metrics;
  /** null when ready, else the reason. */
  readonly notReadyReason: () => string | null;
  /** The proxy's bound addresses: `/explain` reads a URL naming one as a base URL. */
  readonly listeners?: () => readonly ListenerAddress[];
}

export interface AdminServer {
  readonly server: Server;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: unknown, contentType = 'application/json; charset=utf-8'): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

function routesBody(snap: Snapshot): unknown {
  return {
    generation: snap.generation,
    hash: snap.config.hash,
    routes: snap.config.routes.map((r) => ({
      name: r.name,
      host: r.match.host ?? null,
      paths: r.match.paths,
      methods: r.match.methods,
      prefix: r.prefix ?? null,
      upstream: r.upstream.origin + r.upstream.basePath,
      credential: r.credential,
      mode: r.mode,
      header_type: r.inject.headerType,
      header_name: r.inject.headerName ?? null,
      cache_ttl_ms: r.cacheTtlMs,
      allow_plaintext: r.allowPlaintext,
      ports: r.match.ports,
      response_guard: r.responseGuard,
      keep_cookies: r.keepCookies,
      keep_forwarding_headers: r.keepForwardingHeaders,
      // Names only: a set value may be an identifier the operator would rather not publish.
      headers_set: r.headers.set.map(([name]) => name),
      headers_removed: r.headers.remove,
    })),
    egress: { ...snap.config.egress, allow: snap.config.egress.allow.map(allowEntryText) },
    // Gateway mode: who may use what (token hashes and placeholders are not shown).
    agents: snap.config.agents.map((a) => ({
      name: a.name,
      routes: a.routes,
      token: a.tokenSha256 !== undefined,
      listen: a.listen === undefined ? null : `${a.listen.host}:${a.listen.port}`,
      vault_agent: a.vault?.agent ?? snap.config.vault.agent,
    })),
  };
}

/** 127.0.0.0/8, ::1 or localhost: only this host can reach a listener bound there. */
function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** /routes and /explain: served on loopback, elsewhere only with `admin_detail: true`. */
function detailRefused(deps: AdminDeps, host: string, res: ServerResponse): boolean {
  if (isLoopbackHost(host) || deps.snapshot().config.adminDetail) return false;
  const r = toReply(new SidecarError('ADMIN_DETAIL_OFF'));
  res.writeHead(r.status, r.headers);
  res.end(r.body);
  return true;
}

async function handle(deps: AdminDeps, host: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    send(res, 405, { error: { code: 'METHOD_NOT_ALLOWED', message: 'The admin endpoints are read-only.' } });
    return;
  }
  const url = new URL(req.url ?? '/', 'http://admin.invalid');
  switch (url.pathname) {
    case '/healthz':
      send(res, 200, { status: 'ok' });
      return;
    case '/readyz': {
      const reason = deps.notReadyReason();
      if (reason === null) send(res, 200, { status: 'ready' });
      else send(res, 503, { status: 'not ready', reason });
      return;
    }
    case '/metrics': {
      const { contentType, body } = await deps.metrics.render();
      send(res, 200, body, contentType);
      return;
    }
    case '/routes':
      if (detailRefused(deps, host, res)) return;
      send(res, 200, routesBody(deps.snapshot()));
      return;
    case '/explain': {
      if (detailRefused(deps, host, res)) return;
      // ?method=&url=[&host=][&agent=]: the request as an agent would send it.
      const q = url.searchParams;
      const target = q.get('url');
      if (target === null || target === '') {
        send(res, 400, { error: { code: 'BAD_REQUEST', message: 'url is required' } });
        return;
      }
      const input = { method: q.get('method') ?? 'GET', url: target, host: q.get('host') ?? undefined, agent: q.get('agent') ?? undefined };
      send(res, 200, explain(deps.snapshot(), input, deps.listeners?.() ?? []));
      return;
    }
    default:
      send(res, 404, { error: { code: 'NOT_FOUND', message: 'Admin endpoints: /healthz /readyz /metrics /routes /explain' } });
  }
}

export async function startAdmin(deps: AdminDeps, host: string, port: number): Promise<AdminServer> {
  const server = createServer({ headersTimeout: 10_000, requestTimeout: 30_000 }, (req, res) => {
    handle(deps, host, req, res).catch(() => {
      if (!res.headersSent) send(res, 500, { error: { code: 'INTERNAL', message: 'Internal sidecar error.' } });
      else res.destroy();
    });
  });
  deps.metrics.countConnections(server, 'admin');
  await listen(server, host, port);
  return {
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
