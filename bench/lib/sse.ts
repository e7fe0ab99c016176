/**
 * SSE workload: time to the first event, and how promptly each later event arrives.
 * The upstream stamps every event with the monotonic clock (shared by all processes
 * on the machine), so each event's delivery delay is measured end to end. An event
 * is "held back" when it arrives later than one interval after it was sent, which
 * is what a buffering proxy does (it releases events in batches, or at the end).
 */
import http from 'node:http';
import { percentile } from './stats.js';

export interface SseTarget {
  readonly port: number;
  /** Base path (origin- or absolute-form) to which `/sse?...` is appended. */
  readonly base: string;
  readonly host?: string | undefined;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface SseOptions {
  readonly streams: number;
  readonly events: number;
  readonly intervalMs: number;
}

export interface SseResult {
  readonly streams: number;
  readonly events: number;
  readonly ttfeP50Ms: number;
  readonly ttfeMaxMs: number;
  readonly deliveryP50Ms: number;
  readonly deliveryP99Ms: number;
  readonly deliveryMaxMs: number;
  readonly gapMeanMs: number;
  readonly gapMaxMs: number;
  /** Events delivered more than one interval late. */
  readonly heldBack: number;
  /** Events that arrived in the same read as an earlier one. */
  readonly coalesced: number;
  readonly errors: readonly string[];
}

interface StreamFigures {
  ttfeMs: number;
  deliveries: number[];
  gaps: number[];
  coalesced: number;
  events: number;
}

function oneStream(agent: http.Agent, t: SseTarget, o: SseOptions): Promise<StreamFigures> {
  return new Promise((resolve, reject) => {
    const path = `${t.base}/sse?n=${o.events}&interval=${o.intervalMs}`;
    const headers: Record<string, string> = { accept: 'text/event-stream', ...(t.headers ?? {}) };
    if (t.host) headers.host = t.host;
    const f: StreamFigures = { ttfeMs: -1, deliveries: [], gaps: [], coalesced: 0, events: 0 };
    const budget = o.events * o.intervalMs + 10_000;
    const t0 = process.hrtime.bigint();
    let lastArrival = 0n;
    const req = http.request({ host: '127.0.0.1', port: t.port, path, headers, agent }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`SSE status ${res.statusCode} (${String(res.headers['x-sanctum-error'] ?? '')})`));
        return;
      }
      res.setEncoding('utf8');
      let buf = '';
      res.on('data', (chunk: string) => {
        const arrival = process.hrtime.bigint();
        buf += chunk;
        let inThisRead = 0;
        for (let end = buf.indexOf('\n\n'); end !== -1; end = buf.indexOf('\n\n')) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const m = /"t":(\d+)/.exec(block);
          if (!m?.[1]) continue;
          inThisRead += 1;
          f.events += 1;
          if (f.ttfeMs < 0) f.ttfeMs = Number(arrival - t0) / 1e6;
          f.deliveries.push(Number(arrival - BigInt(m[1])) / 1e6);
          if (lastArrival !== 0n) f.gaps.push(Number(arrival - lastArrival) / 1e6);
          lastArrival = arrival;
        }
        if (inThisRead > 1) f.coalesced += inThisRead - 1;
      });
      res.on('end', () => resolve(f));
      res.on('error', reject);
    });
    req.setTimeout(budget, () => req.destroy(new Error(`SSE stream exceeded ${budget} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** Runs `streams` SSE streams one after another on one kept-alive connection. */
export async function measureSse(t: SseTarget, o: SseOptions): Promise<SseResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const errors: string[] = [];
  const ttfe: number[] = [];
  const deliveries: number[] = [];
  const gaps: number[] = [];
  let coalesced = 0;
  let events = 0;
  try {
    // Warm-up: opens the connection and any upstream pool, so TTFE measures the hop.
    await oneStream(agent, t, { ...o, events: 2, intervalMs: 5 }).catch((e: unknown) => errors.push(String(e)));
    for (let i = 0; i < o.streams && errors.length < 3; i += 1) {
      try {
        const f = await oneStream(agent, t, o);
        if (f.events !== o.events) errors.push(`stream ${i}: ${f.events}/${o.events} events`);
        if (f.ttfeMs >= 0) ttfe.push(f.ttfeMs);
        deliveries.push(...f.deliveries);
        gaps.push(...f.gaps);
        coalesced += f.coalesced;
        events += f.events;
      } catch (e) {
        errors.push(`stream ${i}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  } finally {
    agent.destroy();
  }
  return {
    streams: ttfe.length,
    events,
    ttfeP50Ms: percentile(ttfe, 50),
    ttfeMaxMs: Math.max(0, ...ttfe),
    deliveryP50Ms: percentile(deliveries, 50),
    deliveryP99Ms: percentile(deliveries, 99),
    deliveryMaxMs: Math.max(0, ...deliveries),
    gapMeanMs: gaps.length ? gaps.reduce((a, b) => a + b, 0) / gaps.length : 0,
    gapMaxMs: Math.max(0, ...gaps),
    heldBack: deliveries.filter((d) => d > o.intervalMs).length,
    coalesced,
    errors,
  };
}
