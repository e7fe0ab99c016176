/**
 * Logging: pino options with redaction, and the one canonical line per request (STYLE 7).
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
    paths.push(`headers["${n}"]`, `req.headers["${n}"]`, `res.headers["${n}"]`, `*.headers["${n}"]`);
  }
  return pino(
    {
      level,
      base: { service: 'sanctum-sidecar' },
      messageKey: 'msg',
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths, censor: '[REDACTED]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    opts.destination ?? pino.destination({ fd: 1, sync: false }),
  );
}

/** The fields of the canonical per-request line; names are constant and tests assert on them. */
export interface RequestRecord {
  id: string;
  form: string;
  agent: string | null;
  route: string | null;
  method: string;
  host: string | null;
  status: number;
  code: string | null;
  outcome: string;
  vault_ms: number | null;
  upstream_ms: number | null;
  total_ms: number;
  bytes_in: number;
  bytes_out: number;
  cache: string | null;
  /** Why the request was sent upstream a second time (on a fresh connection), or null. */
  retried: string | null;
}

/** Emit the canonical line. Called exactly once per request, from a `finally`-style close hook. */
export function logRequest(log: Logger, rec: RequestRecord): void {
  if (rec.status >= 500) log.warn(rec, 'request');
  else log.info(rec, 'request');
}
