/**
 * The gate stage of the pipeline (gateway mode, and routes with a rate limit):
 * tripwires on the headers and target (403 TRIPWIRE), then the rate limits (429
 * RATE_LIMITED), and, when needed, the body tripwire, before anything is resolved or
 * sent. The agent's route access (403 AGENT_ROUTE_DENIED) is part of the routing
 * decision (routing/decide), so `explain` answers it too. Refusals are counted and, for
 * tripwires, logged here; the pipeline turns the thrown error into the reply.
 */
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import type { Route } from '../routing/route.js';
import { SidecarError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Gateway } from './agents.js';
import type { Caller } from './auth.js';
import type { Limiter } from './limits.js';
import { scanBody, scanHeadersAndTarget, searchableToken, type Needle, type Trip } from './tripwire.js';

export interface GateDeps {
  readonly limiter: Limiter;
  readonly metrics: Metrics;
  readonly log: Logger;
}

/** The request state the gate reads, and the stream release it sets. */
export interface Gated {
  readonly id: string;
  readonly caller: Caller | null;
  readonly route: Route | null;
  readonly host: string | null;
  release: (() => void) | null;
}

/** Count and log a tripwire (the agent and the host, never the string found); the 403 to throw. */
function tripped(d: GateDeps, st: Gated, trip: Trip): SidecarError {
  const agent = st.caller?.agent.name ?? '';
  d.metrics.tripwires.inc({ agent, kind: trip.kind });
  d.log.warn({ id: st.id, agent, host: st.host, route: st.route?.name ?? null, kind: trip.kind, where: trip.where }, 'tripwire: request blocked');
  return new SidecarError('TRIPWIRE');
}

/**
 * Header/target tripwires and limits. Throws the catalogued refusal; returns the
 * needles the body must still be searched for (null: nothing to search for).
 */
export function admit(d: GateDeps, gw: Gateway | null, st: Gated, req: IncomingMessage, path: string, query: string): readonly Needle[] | null {
  const c = st.caller;
  const route = st.route;
  let needles: readonly Needle[] | null = null;
  if (c !== null && gw !== null) {
    const found = gw.tripwires.forRoute(route);
    const token = searchableToken(c.token);
    const trip = scanHeadersAndTarget(found, token, req.headers, route, path, query);
    if (trip !== null) throw tripped(d, st, trip);
    if (found.length > 0 || token !== null) needles = found;
  }
  try {
    st.release = d.limiter.admit(c?.agent.name ?? '', c?.agent.rateLimit, route?.name ?? null, route?.rateLimit);
  } catch (err) {
    d.metrics.rateLimited.inc({ agent: c?.agent.name ?? '', route: route?.name ?? 'none' });
    throw err;
  }
  return needles;
}

/** The body tripwire: search the head of the body; resolves with the body to forward, or rejects with TRIPWIRE. */
export async function admitBody(d: GateDeps, st: Gated, req: IncomingMessage, needles: readonly Needle[], idleMs: number): Promise<Readable> {
  const { trip, body } = await scanBody(req, needles, searchableToken(st.caller?.token ?? null), idleMs);
  if (trip !== null) {
    body.destroy();
    throw tripped(d, st, trip);
  }
  return body;
}
