/**
 * The parts of undici the request path uses (Agent, Pool, Client, buildConnector),
 * loaded from their own files instead of the package index.
 *
 * Why: `import 'undici'` loads all of undici (fetch, WebSocket, caches, mocks,
 * interceptors) and, through its cookies module reading `globalThis.Headers`, also
 * makes Node load its own bundled copy of undici. Measured on Node 24: about 6 MiB of
 * resident memory in every sidecar for code the proxy never runs. The proxy only calls
 * `dispatch()`, which these classes implement themselves.
 *
 * The files are undici's internals, so test/unit/undici-core.test.ts checks that each
 * is the very object the package index exports: an upgrade that moves one fails there.
 * Types come from the package's own declarations.
 */
import { createRequire } from 'node:module';
import type * as Undici from 'undici';

export type { Dispatcher } from 'undici';

const require = createRequire(import.meta.url);

export const Agent = require('undici/lib/dispatcher/agent.js') as typeof Undici.Agent;
export type Agent = Undici.Agent;
export const Pool = require('undici/lib/dispatcher/pool.js') as typeof Undici.Pool;
export type Pool = Undici.Pool;
export const Client = require('undici/lib/dispatcher/client.js') as typeof Undici.Client;
export type Client = Undici.Client;
export const buildConnector = require('undici/lib/core/connect.js') as typeof Undici.buildConnector;
export type Connector = Undici.buildConnector.connector;
