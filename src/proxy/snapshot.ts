/**
 * A configuration snapshot: the validated config and its compiled route table.
 * Each request reads the current snapshot once and keeps it to the end (I13); a
 * reload builds a whole new snapshot, then swaps the reference. A snapshot is the
 * `RoutingView` the routing decision reads (routing/decide).
 */
import type { Config } from '../config/types.js';
import type { RoutingView } from '../routing/decide.js';
import type { ListenerAddress } from '../routing/explain.js';
import { RouteTable } from '../routing/matcher.js';
import { buildGateway, templatedPaths, type Gateway } from '../gateway/agents.js';

export interface Snapshot extends RoutingView {
  readonly config: Config;
  readonly table: RouteTable;
  /** Increments on every successful (re)load. */
  readonly generation: number;
  /** Gateway mode (`agents:`), or null for the single-agent sidecar. */
  readonly gateway: Gateway | null;
  /** Single-agent sidecar: credential paths of `{agent}` routes, with `vault.agent` filled in. */
  readonly credentialPaths: ReadonlyMap<string, string>;
}

export function buildSnapshot(config: Config, generation: number): Snapshot {
  return {
    config,
    table: new RouteTable(config.routes, config.egress),
    generation,
    gateway: buildGateway(config),
    credentialPaths: templatedPaths(config.routes, config.vault.agent),
    interception: config.tls.caDir !== undefined,
  };
}

/** The proxy addresses a config names (its listener and agents' dedicated ones), for `explain`. */
export function configuredListeners(config: Config): ListenerAddress[] {
  const out: ListenerAddress[] = [{ host: config.listen.host, port: config.listen.port }];
  for (const a of config.agents) if (a.listen !== undefined) out.push({ host: a.listen.host, port: a.listen.port, agent: a.name });
  return out;
}
