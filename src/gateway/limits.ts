/**
 * Rate limits: a token bucket and a concurrent-stream cap per agent (`agents[].rate_limit`)
 * and per agent per route (`routes[].rate_limit`; per route without `agents:`).
 *
 * A bucket holds at most `burst` tokens, starts full and refills continuously at
 * `requests` per `per`; each admitted request takes one token from every bucket that
 * applies, and is refused (429, Retry-After = whole seconds until a token is back, at
 * least 1) unless all of them have one — so a refusal takes nothing. A stream counts
 * from admission until its response closes. State outlives reloads: a bucket whose
 * settings are unchanged keeps its tokens, a changed one starts afresh (full), and the
 * state of removed agents and routes is dropped. The clock is injectable for tests.
 */
import type { RateLimit, TokenBucketSpec } from '../routing/route.js';
import { SidecarError } from '../errors.js';

class Bucket {
  tokens: number;
  last: number;

  constructor(
    readonly spec: TokenBucketSpec,
    now: number,
  ) {
    this.tokens = spec.burst;
    this.last = now;
  }

  same(s: TokenBucketSpec): boolean {
    return s.requests === this.spec.requests && s.perMs === this.spec.perMs && s.burst === this.spec.burst;
  }

  /** Refill to `now`; milliseconds until one token is available (0: one is). */
  wait(now: number): number {
    const s = this.spec;
    if (now > this.last) {
      this.tokens = Math.min(s.burst, this.tokens + ((now - this.last) * s.requests) / s.perMs);
      this.last = now;
    }
    return this.tokens >= 1 ? 0 : ((1 - this.tokens) * s.perMs) / s.requests;
  }
}

interface Counter {
  bucket: Bucket | null;
  streams: number;
}

interface AgentState {
  readonly own: Counter;
  readonly routes: Map<string, Counter>;
}

function limited(waitMs: number): SidecarError {
  return new SidecarError('RATE_LIMITED', { retryAfter: Math.max(1, Math.ceil(waitMs / 1000)) });
}

/** The bucket of `c` for `spec`: kept while the settings are the same, rebuilt when they change. */
function sync(c: Counter | null, spec: TokenBucketSpec | undefined, now: number): Bucket | null {
  if (c === null) return null;
  if (spec === undefined) return (c.bucket = null);
  if (c.bucket === null || !c.bucket.same(spec)) c.bucket = new Bucket(spec, now);
  return c.bucket;
}

export class Limiter {
  readonly #agents = new Map<string, AgentState>();
  readonly #now: () => number;

  /** `now`: a monotonic clock in milliseconds. */
  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  /**
   * Admit one request of `agent` ('' without `agents:`) to `route` (null: passthrough),
   * or throw RATE_LIMITED. Returns the release for the streams it counts (call once,
   * when the response closes), or null when no stream cap applies.
   */
  admit(agent: string, agentLimit: RateLimit | undefined, route: string | null, routeLimit: RateLimit | undefined): (() => void) | null {
    const now = this.#now();
    const a = this.#state(agent);
    let r: Counter | null = null;
    if (route !== null && routeLimit !== undefined) {
      r = a.routes.get(route) ?? null;
      if (r === null) a.routes.set(route, (r = { bucket: null, streams: 0 }));
    }
    const agentCap = agentLimit?.maxStreams;
    const routeCap = routeLimit?.maxStreams;
    if ((agentCap !== undefined && a.own.streams >= agentCap) || (r !== null && routeCap !== undefined && r.streams >= routeCap)) {
      throw limited(1000);
    }
    const ab = sync(a.own, agentLimit?.bucket, now);
    const rb = sync(r, routeLimit?.bucket, now);
    const wait = Math.max(ab?.wait(now) ?? 0, rb?.wait(now) ?? 0);
    if (wait > 0) throw limited(wait);
    if (ab !== null) ab.tokens -= 1;
    if (rb !== null) rb.tokens -= 1;
    const own = agentCap !== undefined ? a.own : null;
    const per = r !== null && routeCap !== undefined ? r : null;
    if (own === null && per === null) return null;
    if (own !== null) own.streams++;
    if (per !== null) per.streams++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (own !== null) own.streams--;
      if (per !== null) per.streams--;
    };
  }

  /** After a reload: drop the state of agents and routes that are gone. */
  retain(agents: ReadonlySet<string>, routes: ReadonlySet<string>): void {
    for (const [name, s] of this.#agents) {
      if (!agents.has(name)) this.#agents.delete(name);
      else for (const r of s.routes.keys()) if (!routes.has(r)) s.routes.delete(r);
    }
  }

  #state(agent: string): AgentState {
    let s = this.#agents.get(agent);
    if (s === undefined) {
      s = { own: { bucket: null, streams: 0 }, routes: new Map() };
      this.#agents.set(agent, s);
    }
    return s;
  }
}
