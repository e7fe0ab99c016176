/**
 * Logging: pino options with redaction. The canonical per-request line is written by
 * `proxy/record.ts` alone (STYLE 7).
 *
 * Injected header values are never handed to the logger at all; redaction of
 * credential-bearing header names is defence in depth for anything that logs a
 * header map by mistake. pino lives only in this module.
 */
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const REDACT_HEADERS = ['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-api-key', 'api-key'];

export function createLogger(opts: { level?: string; destination?: DestinationStream; extraRedact?: string[] } = {}): Logger {
  const level = (LOG_LEVELS as readonly string[]).includes(opts.level ?? '') ? (opts.level as LogLevel) : 'info';
  const names = [...REDACT_HEADERS, ...(opts.extraRedact ?? [])];
  const paths: string[] = [];
  for (const n of names) {
    // `*.headers` covers req.headers, res.headers and any other one level down. pino's
    // redaction parses every path on every line it writes, so no path is listed twice.
    paths.push(`headers["${n}"]`, `*.headers["${n}"]`);
  }
  return pino(
    {
      level,
      base: { service: 'sanctum-sidecar' },
      messageKey: 'msg',
      timestamp: isoTimeCached,
      redact: { paths, censor: '[REDACTED]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    opts.destination ?? pino.destination({ fd: 1, sync: false }),
  );
}

/**
 * pino's `isoTime`, formatted once per millisecond: under load a sidecar writes many
 * lines within the same millisecond, and `toISOString` was 1.5 % of its CPU at `info`.
 */
let lastMs = -1;
let lastTime = '';
function isoTimeCached(): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    lastTime = `,"time":"${new Date(now).toISOString()}"`;
  }
  return lastTime;
}

const unredacted = new WeakMap<Logger, Logger>();

/**
 * The logger for the canonical per-request line (proxy/record.ts): the same destination,
 * level and base fields, without redaction. That line's fields are fixed scalars, typed
 * so in record.ts, and never hold a header; pino's redaction parses each path and clones
 * the line on every write, which measured about 26 µs per line on Node 24 (2.6 µs
 * without), more than the whole rest of a cache-hit request. Every other log line,
 * where a header map could appear by mistake, keeps it.
 */
export function lineLogger(log: Logger): Logger {
  let line = unredacted.get(log);
  if (line === undefined) {
    line = log.child({}, { redact: [] });
    unredacted.set(log, line);
  } else if (line.level !== log.level) {
    line.level = log.level;
  }
  return line;
}
