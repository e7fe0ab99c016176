/**
 * Dedicated listeners (gateway mode): an agent with `listen:` gets a proxy listener of
 * its own, and every request and CONNECT arriving there is that agent, without a token
 * (src/gateway/auth). They are reconciled on reload, keyed by the configured address:
 * addresses the new config adds are opened before it is swapped in (a bind failure
 * fails the reload and the old config stays, I13), addresses it drops are closed after.
 * Which agent a listener serves is looked up per request in the current snapshot, so a
 * listener kept across a reload follows its agent, and one whose agent is gone refuses.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config/types.js';
import { listen } from '../listen.js';

export interface Tracker {
  track(server: Server): void;
  untrack(server: Server): void;
}

interface Open {
  readonly server: Server;
  readonly address: { readonly host: string; readonly port: number };
}

function keyOf(hp: { host: string; port: number }): string {
  return `${hp.host}:${hp.port}`;
}


export class AgentListeners {
  readonly #open = new Map<string, Open>();
  readonly #build: (listener: string) => Server;
  readonly #tracker: Tracker;
  /** Bound addresses, for the address gate (a tunnel may not dial the sidecar itself, I8). */
  endpoints: ReadonlyArray<{ host: string; port: number }> = [];

  /** `build` creates the (not yet listening) proxy server for a configured `host:port`. */
  constructor(build: (listener: string) => Server, tracker: Tracker) {
    this.#build = build;
    this.#tracker = tracker;
  }

  /**
   * Open the listeners `config` adds. Returns the commit that closes the ones it drops
   * (call it after the swap). Throws, closing what it opened, if one cannot bind.
   */
  async update(config: Config): Promise<() => void> {
    const wanted = new Map(config.agents.filter((a) => a.listen !== undefined).map((a) => [keyOf(a.listen!), a.listen!]));
    const opened: string[] = [];
    try {
      for (const [key, hp] of wanted) {
        if (this.#open.has(key)) continue;
        const server = this.#build(key);
        await listen(server, hp.host, hp.port);
        const a = server.address() as AddressInfo;
        this.#open.set(key, { server, address: { host: a.address, port: a.port } });
        this.#tracker.track(server);
        opened.push(key);
      }
    } catch (err) {
      for (const key of opened) this.#close(key);
      this.#refresh();
      throw err;
    }
    this.#refresh();
    return () => {
      for (const key of [...this.#open.keys()]) if (!wanted.has(key)) this.#close(key);
      this.#refresh();
    };
  }

  /** The bound address of the listener configured as `host:port`. */
  address(listener: string): { host: string; port: number } | null {
    return this.#open.get(listener)?.address ?? null;
  }

  #close(key: string): void {
    const o = this.#open.get(key);
    if (o === undefined) return;
    this.#open.delete(key);
    this.#tracker.untrack(o.server);
    o.server.close();
    o.server.closeIdleConnections();
  }

  #refresh(): void {
    this.endpoints = [...this.#open.values()].map((o) => o.address);
  }
}
