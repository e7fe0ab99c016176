/**
 * Answers written straight on a raw socket, for the places where no `ServerResponse`
 * exists: CONNECT refusals, refused upgrades, requests the HTTP parser rejected, and
 * CONNECT inside a tunnel. The answer is the catalogued one (`toReply()`), and the
 * socket is closed after it: its byte stream can no longer be trusted to be in step.
 */
import type { Socket } from 'node:net';
import { toReply } from '../errors.js';

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  403: 'Forbidden',
  407: 'Proxy Authentication Required',
  408: 'Request Timeout',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** Write the catalogued error for `err` on `socket` and close it. */
export function replyOnSocket(socket: Socket, err: unknown, route?: string | null): void {
  if (socket.destroyed) return;
  const r = toReply(err, route ?? null);
  const head = [`HTTP/1.1 ${r.status} ${STATUS_TEXT[r.status] ?? 'Error'}`];
  for (const [k, v] of Object.entries(r.headers)) head.push(`${k}: ${v}`);
  head.push('connection: close', '', '');
  socket.end(head.join('\r\n') + r.body);
  socket.destroySoon?.();
}
