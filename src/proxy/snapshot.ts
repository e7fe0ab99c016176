/**
 * A configuration snapshot: the validated config and its compiled route table.
 * Each request reads the current snapshot once and keeps it to the end (I13); a
 * reload builds a whole new snapshot, then swaps the reference.
 */
import type { Config } from '../config/types.js';
import { RouteTable } from '../routing/matcher.js';

export interface Snapshot {
  readonly config: Config;
  readonly table: RouteTable;
  /** Increments on every successful (re)load. */
  readonly generation: number;
}

export function buildSnapshot(config: Config, generation: number): Snapshot {
  return { config, table: new RouteTable(config.routes, config.egress), generation };
}
