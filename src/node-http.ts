/**
 * node:http for the rest of the sidecar, loaded with `require` instead of `import`.
 *
 * Why: an ESM `import ... from 'node:http'` makes Node build a namespace with every
 * export, which runs node:http's lazy getters. On Node 24 three of them (WebSocket,
 * CloseEvent, MessageEvent) load Node's bundled copy of undici, and with it http2,
 * zlib and worker_threads: measured 8.5 MiB more resident memory in every sidecar, for
 * code it never runs. `require` returns the module object and reads only what we name.
 * Type-only imports from 'node:http' are erased and stay as they are;
 * test/unit/lean-imports.test.ts keeps value imports of node:http in this file only.
 */
import type * as Http from 'node:http';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const http = require('node:http') as typeof Http;

export const createServer = http.createServer;
export const request = http.request;
export const ServerResponse = http.ServerResponse;
export type ServerResponse<R extends Http.IncomingMessage = Http.IncomingMessage> = Http.ServerResponse<R>;
