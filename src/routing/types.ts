/**
 * The canonical request target (invariant I1): parsed once from the agent's bytes,
 * then used both to match a route and to describe what was asked for. The dial
 * itself always uses the matched route's upstream (I3), never these fields.
 */
import type { Route } from './route.js';

/** Which adapter received the request; a log field and a metric dimension. */
export type RequestForm = 'absolute' | 'prefix' | 'host-header' | 'tunnel-http' | 'intercept' | 'connect';

export interface Target {
  readonly scheme: 'http' | 'https';
  /** Lowercase, one trailing dot dropped, ASCII (punycode) only; IPv6 without brackets. */
  readonly host: string;
  readonly port: number;
  /** Starts with exactly one '/', as received (percent-encoding preserved), no query. */
  readonly path: string;
  /** '' or the query including its leading '?', as received. */
  readonly query: string;
}

/** What the matcher decided for a request. */
export type MatchResult =
  | {
      readonly kind: 'route';
      readonly route: Route;
      /** Path to send upstream: route basePath + the remainder (prefix stripped). Starts with one '/'. */
      readonly upstreamPath: string;
    }
  | { readonly kind: 'passthrough' }
  | { readonly kind: 'deny'; readonly code: 'NO_ROUTE' | 'METHOD_DENIED' };
