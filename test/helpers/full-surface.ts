/**
 * A sidecar with every metric family switched on, for the tests that check the
 * operations surface (zero series, the alert rules and the dashboard against a live
 * scrape): gateway mode with a token agent (placeholders, its own rate limit) and an
 * agent on a dedicated listener, an inject route with a route rate limit and a cache,
 * a delegate route, a passthrough allow-list, and TLS interception with a real CA.
 */
import { startGateway, newToken, sha256, type Gateway } from './gateway.js';
import { makePki, type Pki } from '../integration/connect/helpers.js';

export interface FullSurface {
  readonly gw: Gateway;
  readonly pki: Pki;
  /** alpha's proxy token (alpha authenticates with it; batch uses its own listener). */
  readonly token: string;
  close(): Promise<void>;
}

export const FULL_CREDENTIALS = {
  'openai/api-key': 'sk-live-full-surface-SECRET-0011223344',
  'stripe/secret': 'sk_live_full_surface_SECRET_5566',
};

export function fullSurfaceYaml(pki: Pki, token: string, extraRoutes = ''): string {
  return `
tls:
  ca_dir: ${JSON.stringify(pki.caDir)}
egress:
  unmatched: deny
  allow: [pypi.org]
  block_private_addresses: false
agents:
  - name: alpha
    token_sha256: ${sha256(token)}
    routes: [openai, stripe]
    placeholders: [sk-alpha-placeholder]
    rate_limit: { requests: 100, per: second }
  - name: batch
    listen: 127.0.0.1:0
    routes: [openai]
routes:
  - name: openai
    match: { host: api.openai.com, path: /v1/* }
    prefix: /openai
    upstream: \${ECHO}
    allow_plaintext: true
    credential: openai/api-key
    cache_ttl: 60s
    rate_limit: { requests: 50, per: second }
  - name: stripe
    match: { host: api.stripe.com }
    upstream: \${ECHO2}
    allow_plaintext: true
    credential: stripe/secret
    mode: delegate
${extraRoutes}`;
}

/** `defaultMetrics`: also export prom-client's process metrics (the dashboard uses two of them). */
export async function startFullSurface(opts: { defaultMetrics?: boolean } = {}): Promise<FullSurface> {
  const pki = await makePki();
  const token = newToken('alpha');
  const gw = await startGateway({
    identities: [],
    credentials: FULL_CREDENTIALS,
    yaml: fullSurfaceYaml(pki, token),
    tokens: [token],
    ...(opts.defaultMetrics === undefined ? {} : { defaultMetrics: opts.defaultMetrics }),
  });
  return { gw, pki, token, close: () => gw.close() };
}

/** Prometheus text → `name{labels}` (as printed) → value. */
export function parseScrape(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}
