/**
 * The admin listener, on its own port: /healthz (alive), /readyz (config loaded and
 * vault authenticated, and not draining), /metrics, /routes (the route table, no
 * secrets: routes hold vault paths, never values) and /explain. Fastify lives in the
 * admin listener only; the proxy listener is plain node:http for the hot path.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import type { Metrics } from '../metrics/metrics.js';
import type { Snapshot } from '../proxy/snapshot.js';
import { explain } from '../routing/explain.js';

export interface AdminDeps {
  readonly snapshot: () => Snapshot;
  readonly metrics: Metrics;
  /** null when ready, else the reason. */
  readonly notReadyReason: () => string | null;
}

export async function startAdmin(deps: AdminDeps, host: string, port: number): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, trustProxy: false, return503OnClosing: false });

  app.get('/healthz', async (_req, reply) => reply.code(200).send({ status: 'ok' }));

  app.get('/readyz', async (_req, reply) => {
    const reason = deps.notReadyReason();
    if (reason === null) return reply.code(200).send({ status: 'ready' });
    return reply.code(503).send({ status: 'not ready', reason });
  });

  app.get('/metrics', async (_req, reply) => {
    const { contentType, body } = await deps.metrics.render();
    return reply.code(200).header('content-type', contentType).send(body);
  });

  app.get('/routes', async (_req, reply) => {
    const snap = deps.snapshot();
    return reply.code(200).send({
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
      })),
      egress: snap.config.egress,
      // Gateway mode: who may use what (token hashes and placeholders are not shown).
      agents: snap.config.agents.map((a) => ({
        name: a.name,
        routes: a.routes,
        token: a.tokenSha256 !== undefined,
        listen: a.listen === undefined ? null : `${a.listen.host}:${a.listen.port}`,
        vault_agent: a.vault?.agent ?? snap.config.vault.agent,
      })),
    });
  });

  app.get('/explain', async (req, reply) => {
    const q = req.query as { method?: string; url?: string };
    if (typeof q.url !== 'string' || q.url === '') {
      return reply.code(400).send({ error: { code: 'BAD_REQUEST', message: 'url is required' } });
    }
    const result = explain(deps.snapshot(), (q.method ?? 'GET').toUpperCase(), q.url);
    return reply.code(200).send(result);
  });

  await app.listen({ host, port });
  return app;
}
