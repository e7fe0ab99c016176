/**
 * `sanctum-sidecar explain <METHOD> <URL>`: which route a request would take, its
 * credential path, mode, injected header and upstream, without calling the vault.
 * The decision itself is routing/explain.ts, the same one admin `/explain` serves; this
 * file only parses flags and prints. Exit 0 when the request would be sent (routed or
 * passed through), 3 when it would be refused.
 */
import { loadConfigFile } from '../config/load.js';
import { buildSnapshot, configuredListeners } from '../proxy/snapshot.js';
import { explain } from '../routing/explain.js';
import { CONFIG_FLAG } from './common-flags.js';
import { parseCommand, type CommandIo, type CommandSpec } from './flags.js';

export const EXPLAIN_SPEC = {
  name: 'explain',
  synopsis: '<METHOD> <URL> [--config routes.yaml] [--host HOST] [--agent NAME] [--json]',
  summary: 'show which route, credential path, mode and upstream a request would get (no vault call)',
  description: [
    'Show what the sidecar would do with a request, without calling the vault. Exit 0 when it\n' +
      'would be sent (routed or passed through), 3 when it would be refused.',
  ],
  args: [
    { name: 'METHOD', help: 'GET, POST, ...' },
    { name: 'URL', help: 'as the agent sends it: http://api.openai.com/v1/models (proxy form), a base URL such as http://127.0.0.1:8080/openai/v1/models or /openai/v1/models, or CONNECT-style host:443' },
  ],
  positionals: { min: 2, max: 2 },
  flags: {
    config: CONFIG_FLAG,
    host: { type: 'string', arg: 'HOST[:PORT]', help: 'the Host header of an origin-form URL (egress.host_header_form)' },
    agent: { type: 'string', arg: 'NAME', help: 'the calling agent in gateway mode (agents: in routes.yaml)' },
    json: { type: 'boolean', help: 'print the decision as JSON' },
  },
} as const satisfies CommandSpec;

export async function explainCommand(args: readonly string[], env: NodeJS.ProcessEnv, io: CommandIo = {}): Promise<number> {
  const p = parseCommand(EXPLAIN_SPEC, args, env, io);
  if (typeof p === 'number') return p;
  const [method, url] = p.positionals as [string, string];
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(method)) return p.fail(`'${method}' is not an HTTP method`);
  const config = await loadConfigFile(p.setting('config') ?? 'routes.yaml', env);
  if (p.values.agent !== undefined && config.agents.length === 0) return p.fail('--agent needs gateway mode (agents: in routes.yaml)');
  const e = explain(buildSnapshot(config, 1), { method, url, host: p.values.host, agent: p.values.agent }, configuredListeners(config));
  if (p.values.json === true) {
    p.stdout.write(`${JSON.stringify(e, null, 2)}\n`);
  } else {
    const rows: Array<[string, string | number | null]> = [
      ['decision', e.decision],
      ['form', e.form],
      ['agent', e.agent],
      ['route', e.route],
      ['credential', e.credential],
      ['mode', e.mode],
      ['header', e.header],
      ['upstream', e.upstream],
      ['cache_ttl_ms', e.cache_ttl_ms],
      ['code', e.code],
      ['reason', e.reason],
    ];
    for (const [k, v] of rows) if (v !== null) p.stdout.write(`${k.padEnd(12)} ${v}\n`);
  }
  return e.decision === 'route' || e.decision === 'passthrough' ? 0 : 3;
}
