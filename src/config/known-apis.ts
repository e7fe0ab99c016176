/**
 * Well-known API hosts: the one table of them. `check` warns when a request to one of
 * these would leave without a credential (a route without `credential`, or an
 * `egress.allow` entry: the agent would then need the real key, which is what the
 * sidecar exists to prevent); `env` uses the SDK variables to print base URLs and
 * placeholder keys. SDK variables are listed only where the SDKs are known to read them.
 */
import { hostMatches } from '../routing/pattern.js';
import { allowEntryText } from './hosts.js';
import type { Config, Route } from './types.js';

export interface KnownApi {
  /** The service, for messages. */
  readonly name: string;
  /** What its official SDKs read, where known. */
  readonly sdk?: { readonly baseUrlVar?: string; readonly basePath?: string; readonly keyVars: readonly string[] };
}

export const KNOWN_APIS: ReadonlyMap<string, KnownApi> = new Map<string, KnownApi>([
  ['api.openai.com', { name: 'OpenAI', sdk: { baseUrlVar: 'OPENAI_BASE_URL', basePath: '/v1', keyVars: ['OPENAI_API_KEY'] } }],
  ['api.anthropic.com', { name: 'Anthropic', sdk: { baseUrlVar: 'ANTHROPIC_BASE_URL', basePath: '', keyVars: ['ANTHROPIC_API_KEY'] } }],
  ['api.groq.com', { name: 'Groq', sdk: { baseUrlVar: 'GROQ_BASE_URL', basePath: '', keyVars: ['GROQ_API_KEY'] } }],
  ['api.mistral.ai', { name: 'Mistral', sdk: { keyVars: ['MISTRAL_API_KEY'] } }],
  ['generativelanguage.googleapis.com', { name: 'Google Gemini', sdk: { keyVars: ['GEMINI_API_KEY'] } }],
  ['api.github.com', { name: 'GitHub', sdk: { keyVars: ['GITHUB_TOKEN', 'GH_TOKEN'] } }],
  ['api.stripe.com', { name: 'Stripe' }],
  ['api.cohere.com', { name: 'Cohere' }],
  ['api.cohere.ai', { name: 'Cohere' }],
  ['api.together.xyz', { name: 'Together AI' }],
  ['api.deepseek.com', { name: 'DeepSeek' }],
  ['api.x.ai', { name: 'xAI' }],
  ['openrouter.ai', { name: 'OpenRouter' }],
  ['api.fireworks.ai', { name: 'Fireworks AI' }],
  ['api.perplexity.ai', { name: 'Perplexity' }],
  ['api.replicate.com', { name: 'Replicate' }],
]);

/** The API the route sends to: its match host, else its upstream host. */
export function knownApiOfRoute(r: Route): KnownApi | undefined {
  return KNOWN_APIS.get(r.match.host ?? '') ?? KNOWN_APIS.get(r.upstream.host);
}

/** Well-known hosts that a host pattern (exact or `*.suffix`) covers. */
function knownHostsUnder(pattern: string): string[] {
  return [...KNOWN_APIS.keys()].filter((h) => hostMatches(pattern, h));
}

/** Warnings for well-known API hosts that a request could reach without a credential. */
export function lintKnownApis(c: Config): string[] {
  const w: string[] = [];
  for (const r of c.routes) {
    if (r.credential !== null) continue;
    const hosts = new Set([...(r.match.host === undefined ? [] : knownHostsUnder(r.match.host)), ...knownHostsUnder(r.upstream.host)]);
    for (const h of hosts) {
      w.push(
        `route ${r.name}: ${h} is the ${KNOWN_APIS.get(h)!.name} API, but the route has no credential, so the agent would need the real key; ` +
          'add `credential: <vault path>`',
      );
    }
  }
  for (const a of c.egress.allow) {
    for (const h of knownHostsUnder(a.host)) {
      // A route covering the host wins over the allow list; a credential-less one is reported above.
      if (c.routes.some((r) => r.match.host !== undefined && hostMatches(r.match.host, h))) continue;
      w.push(
        `egress.allow ${allowEntryText(a)}: ${h} is the ${KNOWN_APIS.get(h)!.name} API; allow-listed hosts pass through without a credential, ` +
          'so the agent would need the real key; give it a route with a credential instead',
      );
    }
  }
  return w;
}
