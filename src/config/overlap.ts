/**
 * Rules across routes: names are unique, and no request may be matched by two routes
 * equally well (STYLE 3: ambiguity is a load error, never "first one wins").
 *
 * The matcher picks the most specific route (routing/pattern.ts): exact host before
 * wildcard, longer wildcard suffix before shorter, then the most specific path pattern
 * (longer literal; exact before `/*` at equal length), with methods as a filter. So an
 * overlap is an error exactly when that order cannot decide, which is when two routes
 *   - host form: have the SAME host pattern (the same exact host, or the same
 *     `*.suffix`), can accept the same port (no `match.ports` counts as 80 for http://
 *     and 443 for https://), share a path pattern (an empty list counts as `/*`), and
 *     share a method (an empty list counts as every method); or
 *   - prefix form: have the same full pattern (prefix + path pattern, e.g. prefix
 *     `/openai` with `/v1/*` and prefix `/openai/v1` with no paths are both
 *     `/openai/v1/*`) and share a method.
 * Different patterns can never tie: if two distinct patterns match one path, one has
 * the longer literal or is exact. So `/v1/*` beside `/v1/models`, `api.x.com` beside
 * `*.x.com`, or prefix `/openai` beside `/openai/v2` are fine: the more specific wins.
 */
import { compilePathPattern, methodsOverlap, portsOverlap, type PathPattern } from '../routing/pattern.js';
import type { Route } from './types.js';
import type { Issues } from './context.js';

interface Located {
  readonly route: Route;
  readonly index: number;
}

function patterns(r: Route): PathPattern[] {
  return (r.match.paths.length === 0 ? ['/*'] : r.match.paths).map(compilePathPattern);
}

/** Equal (exact, literal) keys: the ties the specificity order cannot break. */
function sharedPattern(a: readonly PathPattern[], b: readonly PathPattern[], aBase = '', bBase = ''): string | undefined {
  for (const p of a) {
    for (const q of b) {
      if (p.exact === q.exact && aBase + p.literal === bBase + q.literal) return p.exact ? aBase + p.literal : `${aBase + p.literal}/*`;
    }
  }
  return undefined;
}

function methodsText(a: Route, b: Route): string {
  const x = a.match.methods;
  const y = b.match.methods;
  if (x.length === 0 && y.length === 0) return 'both allow every method';
  const shared = x.length === 0 ? y : y.length === 0 ? x : x.filter((m) => y.includes(m));
  return `both allow ${shared.join(', ')}`;
}

/** Report ambiguous pairs; each issue sits on the later route. (Duplicate names: checkRouteNames.) */
export function checkRouteTable(issues: Issues, routes: readonly Located[]): void {
  for (let j = 0; j < routes.length; j++) {
    const b = routes[j];
    if (!b) continue;
    for (let i = 0; i < j; i++) {
      const a = routes[i];
      if (!a) continue;
      if (!methodsOverlap(a.route.match.methods, b.route.match.methods)) continue;
      const other = `route ${a.route.name} (routes[${a.index}], line ${a.route.line ?? '?'})`;
      const ha = a.route.match.host;
      if (ha !== undefined && ha === b.route.match.host && portsOverlap(a.route.match.ports, b.route.match.ports)) {
        const shared = sharedPattern(patterns(a.route), patterns(b.route));
        if (shared !== undefined) {
          issues.add(
            ['routes', b.index, 'match'],
            `route ${b.route.name} overlaps ${other}: same host ${ha}, same path pattern ${shared}, and ${methodsText(a.route, b.route)}; ` +
              'give them different paths or disjoint methods',
          );
        }
      }
      const pa = a.route.prefix;
      const pb = b.route.prefix;
      if (pa !== undefined && pb !== undefined) {
        const shared = sharedPattern(patterns(a.route), patterns(b.route), pa, pb);
        if (shared !== undefined) {
          issues.add(
            ['routes', b.index, 'prefix'],
            `route ${b.route.name} overlaps ${other}: both match ${shared} through their prefixes, and ${methodsText(a.route, b.route)}; ` +
              'use distinct prefixes or paths, or disjoint methods',
          );
        }
      }
    }
  }
}

/**
 * Route names are unique. Checked on the wire data so that a duplicate is reported even
 * when either route has other problems.
 */
export function checkRouteNames(issues: Issues, routes: readonly unknown[]): void {
  const first = new Map<string, number>();
  routes.forEach((r, index) => {
    const name = (r as { name?: unknown } | null)?.name;
    if (typeof name !== 'string') return;
    const prev = first.get(name);
    if (prev === undefined) first.set(name, index);
    else {
      const shown = issues.shown(['routes', index, 'name'], name);
      issues.add(['routes', index, 'name'], `duplicate route name ${shown} (first used by routes[${prev}] on line ${issues.line(['routes', prev]) ?? '?'})`);
    }
  });
}
