/**
 * Which upstream connection a request is written on (issue 18). undici does not tell a
 * dispatch handler whether its request went out on a fresh connection or on a pooled
 * one that was used before, and only a reused connection may be retried (a fresh one
 * failing is the upstream's answer, not a race with its idle timeout).
 *
 * Each pool slot is a `TrackingClient`: a plain undici Client whose connector notes the
 * socket it opened, and whose `dispatch` hands a connection-aware handler the slot's
 * record. The handler reads the record in `onConnect`, which undici calls synchronously
 * just before it writes the request on the slot's current socket, so the socket and the
 * number of requests it carried before are exact. Nothing here is allocated per request.
 */
import type { Socket } from 'node:net';
import type { Client as UndiciClient, buildConnector } from 'undici';
import { Client, type Dispatcher } from '../undici-core.js';

/** The current connection of one pool slot. */
export class ConnectionRecord {
  socket: Socket | null = null;
  /** Requests started on `socket` so far (the handler counts itself in `onConnect`). */
  requests = 0;
}

/** A handler that wants to know its connection implements this. */
export interface ConnectionAware {
  onConnection(record: ConnectionRecord): void;
}

function isConnectionAware(h: unknown): h is ConnectionAware {
  return typeof (h as Partial<ConnectionAware>).onConnection === 'function';
}

/** An undici Client that records its sockets for connection-aware handlers. */
class TrackingClient extends Client {
  readonly #record: ConnectionRecord;

  constructor(origin: string | URL, opts: UndiciClient.Options, record: ConnectionRecord) {
    super(origin, opts);
    this.#record = record;
  }

  override dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    if (isConnectionAware(handler)) handler.onConnection(this.#record);
    return super.dispatch(opts, handler);
  }
}

/**
 * `Pool` `factory`: one TrackingClient per slot. The pool passes its connector as
 * `opts.connect` (a function once the pool has built it); it is wrapped to note each
 * new socket and restart the count.
 */
export function trackingClientFactory(origin: string | URL, opts: object): Dispatcher {
  const o = opts as UndiciClient.Options;
  const record = new ConnectionRecord();
  const connect = o.connect;
  if (typeof connect !== 'function') return new Client(origin, o);
  const tracked: buildConnector.connector = (options, cb) => {
    connect(options, (...args) => {
      const socket = args[1];
      if (socket !== null) {
        record.socket = socket;
        record.requests = 0;
      }
      cb(...args);
    });
  };
  return new TrackingClient(origin, { ...o, connect: tracked }, record);
}
