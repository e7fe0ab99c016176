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
