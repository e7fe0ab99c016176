/**
 * Durations in routes.yaml: `500ms`, `2s`, `1.5s`, `1m`, `1h`, and sums such as
 * `1m30s`. A bare number is refused unless it is 0: `timeout: 500` could mean
 * seconds or milliseconds, and guessing wrong by a factor of 1000 is worse than asking
 * (Go's time.ParseDuration makes the same choice). Results are whole milliseconds.
 */

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/y;

/**
 * The largest duration accepted: Node's timers overflow above 2^31-1 ms (about 24.8
 * days) and then fire after 1 ms, which would turn a long timeout into none at all.
 */
export const MAX_DURATION_MS = 2 ** 31 - 1;

/** Parse a duration into milliseconds. Throws `RangeError` with a message fit for a config issue. */
export function parseDuration(s: string | number): number {
  if (typeof s === 'number') {
    if (s === 0) return 0;
    throw new RangeError('a duration needs a unit, e.g. 500ms, 2s, 1m or 1h (a bare number is ambiguous; only 0 may omit it)');
  }
  const text = s.trim();
  if (text === '0') return 0;
  if (text.length === 0 || text.length > 64) throw new RangeError('a duration must look like 500ms, 2s, 1m or 1h');
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < text.length) {
    const start = PART.lastIndex;
    const m = PART.exec(text);
    if (m === null || m.index !== start) {
      throw new RangeError('a duration must look like 500ms, 2s, 1.5s, 1m, 1h or 1m30s (no spaces or other units)');
    }
    total += Number(m[1]) * (UNIT_MS[m[2] ?? ''] ?? Number.NaN);
  }
  const ms = Math.round(total);
  if (!Number.isFinite(ms)) throw new RangeError('a duration must look like 500ms, 2s, 1m or 1h');
  if (ms === 0 && total > 0) throw new RangeError('a duration must be 0 or at least 1ms');
  if (ms > MAX_DURATION_MS) throw new RangeError('a duration must be at most 24 days (Node timers overflow beyond that)');
  return ms;
}

/** Human form for summaries: `0s`, `750ms`, `2s`, `1.5s`, `5m`, `1h`. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms >= 1000) return `${ms / 1000}s`;
  return `${ms}ms`;
}
