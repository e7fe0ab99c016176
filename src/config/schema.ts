/**
 * The routes.yaml wire shape: a JSON Schema (validated with ajv in validate.ts) and the
 * TypeScript types of data that passed it. These are wire types (snake_case, optional,
 * unconverted); `convert.ts` and `routes.ts` turn them into the domain types in
 * `types.ts` once, and nothing outside `config/` sees them (STYLE 2).
 *
 * The schema owns structure, types, enums and single-field syntax. Rules that relate
 * fields or routes to each other (socket xor tcp, header_name iff custom, overlaps,
 * plaintext and wildcard opt-ins) are checked in code, after the schema, with the same
 * path-and-line reporting. `x-message` is our annotation: the message to show when a
 * keyword in that schema fails, instead of ajv's generic text.
 */

export type WireDuration = string | number;

export interface WireVault {
  agent: string;
  socket?: string;
  tcp?: string;
  key_file?: string;
  passphrase_env?: string;
  timeout?: WireDuration;
}

export interface WireEgress {
  unmatched?: 'deny' | 'passthrough';
  allow?: string[];
  block_private_addresses?: boolean;
  host_header_form?: boolean;
  /** Upstream (corporate) proxy: `http://host:port` or `env` (config/upstream-proxy.ts). */
  upstream_proxy?: string;
  no_proxy?: string[];
  upstream_proxy_credential?: string;
  upstream_proxy_credential_env?: string;
}

export interface WireTls {
  ca_dir?: string;
  upstream_ca_file?: string;
}

export interface WireLimits {
  headers_timeout?: WireDuration;
  request_timeout?: WireDuration;
  keep_alive_timeout?: WireDuration;
  max_header_bytes?: number;
  max_connections?: number;
  max_delegate_in_flight?: number;
  shutdown_timeout?: WireDuration;
  retry_buffer?: string | number;
  body_idle_timeout?: WireDuration;
  drain_delay?: WireDuration;
}

/** `timeouts:` — waits not tied to one route (routes carry their own `timeouts:`). */
export interface WireTimeouts {
  passthrough?: { connect?: WireDuration; headers?: WireDuration; idle?: WireDuration };
  tunnel_connect?: WireDuration;
  tunnel_idle?: WireDuration;
  websocket_idle?: WireDuration;
  tls_handshake?: WireDuration;
}

export interface WireMatch {
  host?: string;
  port?: number;
  ports?: number[];
  path?: string;
  paths?: string[];
  methods?: string[];
}

export interface WireRoute {
  name: string;
  match?: WireMatch;
  prefix?: string;
  upstream?: string;
  credential?: string | null;
  mode?: 'inject' | 'delegate';
  inject?: { header_type?: 'bearer' | 'api_key' | 'basic' | 'custom'; header_name?: string };
  cache_ttl?: WireDuration;
  allow_plaintext?: boolean;
  allow_plaintext_via_proxy?: boolean;
  allow_wildcard_host?: boolean;
  keep_cookies?: boolean;
  timeouts?: { connect?: WireDuration; headers?: WireDuration; idle?: WireDuration };
  max_body?: string | number;
  rate_limit?: WireRateLimit;
  response_guard?: 'mask' | 'abort' | 'off';
  keep_forwarding_headers?: boolean;
  headers?: { set?: Record<string, string>; remove?: string[] };
  retry?: WireRetry;
}

/** Upstream connection-reuse retries (issue 18): opt non-idempotent methods in. */
export interface WireRetry {
  non_idempotent?: boolean;
}

/** A token bucket (`requests` per `per`, holding `burst`) and/or a cap on concurrent streams. */
export interface WireRateLimit {
  requests?: number;
  per?: 'second' | 'minute';
  burst?: number;
  max_streams?: number;
}

/** Gateway mode: one agent that shares this sidecar (DESIGN "Gateway mode adds agents"). */
export interface WireAgent {
  name: string;
  token_sha256?: string;
  vault?: { agent: string; key_file: string; passphrase_env?: string };
  routes: string[];
  placeholders?: string[];
  listen?: string;
  rate_limit?: WireRateLimit;
}

export interface WireConfig {
  version: 1;
  listen?: string;
  admin?: string | boolean | null;
  admin_detail?: boolean;
  vault: WireVault;
  egress?: WireEgress;
  tls?: WireTls;
  limits?: WireLimits;
  timeouts?: WireTimeouts;
  routes?: WireRoute[] | null;
  agents?: WireAgent[];
}

const duration = { type: ['string', 'number'], 'x-message': 'must be a duration such as 500ms, 2s, 1m or 1h' };
const size = { type: ['string', 'integer'], 'x-message': 'must be a size in bytes or such as 512kb or 1mb' };
const nonEmpty = { type: 'string', minLength: 1 };
const port = { type: 'integer', minimum: 1, maximum: 65535, 'x-message': 'a port is a whole number from 1 to 65535' };
/** A request header name as RFC 9110 §5.6.2 spells a token. */
const headerName = {
  type: 'string',
  pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$",
  maxLength: 128,
  'x-message': "a header name is letters, digits and !#$%&'*+.^_`|~- (an RFC 9110 token)",
};
const count = (max: number) => ({ type: 'integer', minimum: 1, maximum: max, 'x-message': `must be a whole number from 1 to ${max}` });
const rateLimit = {
  type: 'object',
  additionalProperties: false,
  properties: {
    requests: count(1_000_000),
    per: { enum: ['second', 'minute'] },
    burst: count(1_000_000),
    max_streams: count(100_000),
  },
};
const agentName = {
  type: 'string',
  pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$',
  'x-message': 'an agent name is letters, digits, "_", "." and "-", starting with a letter or digit',
};
const envName = {
  type: 'string',
  pattern: '^[A-Za-z_][A-Za-z0-9_]*$',
  'x-message': 'must be the NAME of an environment variable (not the passphrase itself)',
};
const obj = (properties: Record<string, unknown>, required: string[] = []) => ({
  type: 'object',
  additionalProperties: false,
  properties,
  required,
});

const route = obj(
  {
    name: {
      type: 'string',
      pattern: '^[a-z0-9][a-z0-9_-]*$',
      maxLength: 64,
      'x-message': 'a route name is lowercase letters, digits, "_" and "-", starting with a letter or digit (at most 64)',
    },
    match: obj({
      host: nonEmpty,
      port,
      ports: { type: 'array', minItems: 1, items: port },
      path: nonEmpty,
      paths: { type: 'array', minItems: 1, items: nonEmpty },
      methods: {
        type: 'array',
        minItems: 1,
        items: { type: 'string', pattern: '^[A-Za-z]{1,20}$', 'x-message': 'a method is a word such as GET or POST' },
      },
    }),
    prefix: nonEmpty,
    upstream: nonEmpty,
    credential: {
      type: ['string', 'null'],
      pattern: '^[A-Za-z0-9_.{}:@+-]+(/[A-Za-z0-9_.{}:@+-]+)*$',
      maxLength: 512,
      'x-message': 'a credential is a vault path such as openai/api-key (letters, digits, "_.-:@+{}" and "/" between parts)',
    },
    mode: { enum: ['inject', 'delegate'] },
    inject: obj({
      header_type: { enum: ['bearer', 'api_key', 'basic', 'custom'] },
      header_name: nonEmpty,
    }),
    cache_ttl: duration,
    allow_plaintext: { type: 'boolean' },
    allow_plaintext_via_proxy: { type: 'boolean' },
    allow_wildcard_host: { type: 'boolean' },
    keep_cookies: { type: 'boolean' },
    timeouts: obj({ connect: duration, headers: duration, idle: duration }),
    max_body: size,
    rate_limit: rateLimit,
    retry: obj({ non_idempotent: { type: 'boolean' } }),
    response_guard: { enum: ['mask', 'abort', 'off'] },
    keep_forwarding_headers: { type: 'boolean' },
    headers: obj({
      set: {
        type: 'object',
        propertyNames: headerName,
        additionalProperties: {
          type: 'string',
          pattern: '^[\\x20-\\x7e\\t]*$',
          maxLength: 4096,
          'x-message': 'a header value is printable ASCII (no line breaks or control bytes)',
        },
      },
      remove: { type: 'array', items: headerName },
    }),
  },
  ['name'],
);

const agent = obj(
  {
    name: { ...agentName, pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$', 'x-message': `${agentName['x-message']} (at most 64)` },
    token_sha256: {
      type: 'string',
      pattern: '^[0-9a-fA-F]{64}$',
      'x-message': 'must be the sha256 of the proxy token as 64 hex digits (printf %s "$TOKEN" | sha256sum), never the token itself',
    },
    vault: obj({ agent: agentName, key_file: nonEmpty, passphrase_env: envName }, ['agent', 'key_file']),
    routes: { type: 'array', items: nonEmpty },
    placeholders: {
      type: 'array',
      items: { type: 'string', minLength: 8, maxLength: 512, 'x-message': 'a placeholder is a string of 8 to 512 characters (shorter ones would trip on ordinary text)' },
    },
    listen: nonEmpty,
    rate_limit: rateLimit,
  },
  ['name', 'routes'],
);

/** The JSON Schema of routes.yaml (draft-07 vocabulary, as ajv's default build understands). */
export const ROUTES_SCHEMA = obj(
  {
    version: { const: 1, 'x-message': 'must be 1 (the only routes.yaml version so far)' },
    listen: nonEmpty,
    admin: { type: ['string', 'boolean', 'null'], 'x-message': 'must be an address such as 127.0.0.1:9090, or false to disable' },
    admin_detail: { type: 'boolean' },
    vault: obj(
      {
        agent: agentName,
        socket: nonEmpty,
        tcp: nonEmpty,
        key_file: nonEmpty,
        passphrase_env: envName,
        timeout: duration,
      },
      ['agent'],
    ),
    egress: obj({
      unmatched: { enum: ['deny', 'passthrough'] },
      allow: { type: 'array', items: nonEmpty },
      block_private_addresses: { type: 'boolean' },
      host_header_form: { type: 'boolean' },
      // upstream proxy (README "Corporate proxy")
      upstream_proxy: { ...nonEmpty, 'x-message': 'must be an http:// URL with a port (e.g. http://proxy.corp:3128), or env' },
      no_proxy: { type: 'array', items: nonEmpty },
      upstream_proxy_credential: {
        type: 'string',
        pattern: '^[A-Za-z0-9_.:@+-]+(/[A-Za-z0-9_.:@+-]+)*$',
        maxLength: 512,
        'x-message': 'must be a vault path such as corp/proxy (letters, digits, "_.-:@+" and "/" between parts)',
      },
      upstream_proxy_credential_env: { ...envName, 'x-message': 'must be the NAME of an environment variable holding user:password (not the value itself)' },
    }),
    tls: obj({ ca_dir: nonEmpty, upstream_ca_file: nonEmpty }),
    limits: obj({
      headers_timeout: duration,
      request_timeout: duration,
      keep_alive_timeout: duration,
      max_header_bytes: { type: 'integer', minimum: 1024, maximum: 1048576 },
      max_connections: { type: 'integer', minimum: 1, maximum: 1000000 },
      max_delegate_in_flight: { type: 'integer', minimum: 1, maximum: 100000 },
      shutdown_timeout: duration,
      retry_buffer: size,
      body_idle_timeout: duration,
      drain_delay: duration,
    }),
    timeouts: obj({
      passthrough: obj({ connect: duration, headers: duration, idle: duration }),
      tunnel_connect: duration,
      tunnel_idle: duration,
      websocket_idle: duration,
      tls_handshake: duration,
    }),
    routes: { type: ['array', 'null'], items: route },
    agents: { type: 'array', items: agent },
  },
  ['version', 'vault'],
);
