/**
 * The explain contract: one table of requests, spanning every request form, is sent to
 * the LIVE proxy (a real sidecar on port 0, a real vault, the echo upstream) and asked
 * of `explain` three ways (the function `sanctum-sidecar explain` calls, on the config
 * file as the CLI loads it; the CLI process itself for a few rows; the admin `/explain`
 * endpoint over HTTP). All must give the same decision, error code and route.
 *
 * The live answer is what the agent sees (status, `x-sanctum-error`) and what the
 * canonical line says (`outcome` forwarded/passthrough, or the tunnel's `decision`).
 * Rows include the three places where explain and the proxy used to disagree:
 * `GET https://<allow-listed host>/` (400 BAD_TARGET), the host-header form (needs the
 * Host header), and a base URL printed by `env` (resolves to the prefix route).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import { request } from 'undici';
import { loadConfigFile } from '../../../src/config/load.js';
import { buildSnapshot, configuredListeners } from '../../../src/proxy/snapshot.js';
import { explain, type Explanation } from '../../../src/routing/explain.js';
import { recordEvidence } from '../../helpers/evidence.js';
import { newToken, sha256, startGateway, type Gateway } from '../../helpers/gateway.js';
import { rawRequest, parseRaw } from '../../helpers/raw.js';
import { startStack, STANDARD_ROUTES, type Stack } from '../../helpers/stack.js';

type Decision = 'route' | 'passthrough' | 'deny' | 'refused';
interface Expect {
  readonly decision: Decision;
  readonly code?: string;
  readonly route?: string;
}
interface Row {
  readonly name: string;
  readonly on: 'single' | 'gateway';
  readonly method: string;
  /** As given to explain. `{P}` is the sidecar's port, `{E}` the echo's, `{T:name}` an agent's token. */
  readonly url: string;
  /** The Host header (explain's --host); absolute-form rows otherwise send the URL's authority. */
  readonly host?: string;
  /** Gateway mode: who sends it (Proxy-Authorization: Bearer <token>); 'nobody' has a wrong token. */
  readonly agent?: string;
  readonly expect: Expect;
  /** Also run the CLI process for this row. */
  readonly cli?: boolean;
}

const ALPHA = newToken('alpha');
const BETA = newToken('beta');
const TOKENS: Record<string, string> = { alpha: ALPHA, beta: BETA, nobody: 'pt-nobody-not-a-token' };

const R = (route: string): Expect => ({ decision: 'route', route });
const PASS: Expect = { decision: 'passthrough' };
const DENY = (code: string, route?: string): Expect => ({ decision: 'deny', code, ...(route ? { route } : {}) });
const BAD = (code = 'BAD_TARGET'): Expect => ({ decision: 'refused', code });

const ROWS: Row[] = [
  // absolute-form (HTTP_PROXY), single-agent sidecar
  { name: 'absolute GET to a route', on: 'single', method: 'GET', url: 'http://api.openai.com/v1/models', expect: R('openai') },
  { name: 'absolute POST to a route', on: 'single', method: 'POST', url: 'http://api.openai.com/v1/chat/completions', expect: R('openai') },
  { name: 'absolute, routed host, path outside the route', on: 'single', method: 'GET', url: 'http://api.openai.com/v2/other', expect: DENY('METHOD_DENIED') },
  { name: 'absolute custom-header route', on: 'single', method: 'GET', url: 'http://api.anthropic.com/v1/messages', expect: R('anthropic') },
  { name: 'absolute, host case and trailing dot', on: 'single', method: 'GET', url: 'http://API.GITHUB.COM./user', expect: R('github') },
  { name: 'absolute, a port the route does not list is NO_ROUTE (ports are part of the route)', on: 'single', method: 'GET', url: 'http://api.github.com:8443/user', expect: DENY('NO_ROUTE') },
  { name: 'absolute https:// to a route', on: 'single', method: 'GET', url: 'https://api.openai.com/v1/models', expect: R('openai') },
  { name: 'absolute DELETE, route without method list', on: 'single', method: 'DELETE', url: 'http://api.github.com/repos/x', expect: R('github') },
  { name: 'absolute GET, GET-only route', on: 'single', method: 'GET', url: 'http://api.readonly.test/x', expect: R('readonly') },
  { name: 'absolute POST, GET-only route', on: 'single', method: 'POST', url: 'http://api.readonly.test/x', expect: DENY('METHOD_DENIED') },
  { name: 'absolute, allow-listed host: passthrough', on: 'single', method: 'GET', url: 'http://localhost:{E}/hello', expect: PASS },
  { name: 'DISAGREEMENT 1: https:// to an allow-listed host', on: 'single', method: 'GET', url: 'https://localhost:{E}/', expect: BAD(), cli: true },
  { name: 'absolute, unknown host', on: 'single', method: 'GET', url: 'http://evil.test/', expect: DENY('NO_ROUTE') },
  { name: 'absolute, private address', on: 'single', method: 'GET', url: 'http://10.0.0.1/', expect: DENY('NO_ROUTE') },
  { name: 'absolute, userinfo', on: 'single', method: 'GET', url: 'http://api.openai.com@evil.test/', expect: BAD() },
  { name: 'absolute, dot-segment', on: 'single', method: 'GET', url: 'http://api.openai.com/v1/../admin', expect: BAD() },
  { name: 'absolute, encoded dot-segment', on: 'single', method: 'GET', url: 'http://api.openai.com/v1/%2e%2e/admin', expect: BAD() },
  { name: 'absolute, encoded slash', on: 'single', method: 'GET', url: 'http://api.openai.com/v1/a%2fb', expect: BAD() },
  { name: 'absolute, non-canonical IP', on: 'single', method: 'GET', url: 'http://0x7f.1/', expect: BAD() },
  { name: 'absolute, Host disagrees with the target', on: 'single', method: 'GET', url: 'http://api.openai.com/v1/models', host: 'evil.test', expect: BAD('HOST_MISMATCH') },
  { name: 'TRACE is never forwarded', on: 'single', method: 'TRACE', url: 'http://api.openai.com/v1/models', expect: DENY('METHOD_DENIED') },
  // origin-form (prefix / base URL)
  { name: 'prefix GET', on: 'single', method: 'GET', url: '/openai/v1/models', expect: R('openai') },
  { name: 'prefix POST, custom header', on: 'single', method: 'POST', url: '/anthropic/v1/messages', expect: R('anthropic') },
  { name: 'prefix covered, path outside the route', on: 'single', method: 'GET', url: '/openai/v2/x', expect: DENY('METHOD_DENIED') },
  { name: 'prefix, no prefix covers it (host-header form off)', on: 'single', method: 'GET', url: '/nothing/here', expect: BAD() },
  { name: 'origin-form starting with //', on: 'single', method: 'GET', url: '//evil.test/x', expect: BAD() },
  { name: 'prefix, encoded dot-segment', on: 'single', method: 'GET', url: '/openai/v1/%2e%2e/x', expect: BAD() },
  { name: 'DISAGREEMENT 3: base URL printed by env', on: 'single', method: 'POST', url: 'http://127.0.0.1:{P}/anthropic/v1/messages', expect: R('anthropic'), cli: true },
  { name: 'base URL with localhost', on: 'single', method: 'GET', url: 'http://localhost:{P}/openai/v1/models', expect: R('openai') },
  { name: 'base URL, no prefix', on: 'single', method: 'GET', url: 'http://127.0.0.1:{P}/nope', expect: BAD() },
  // CONNECT (HTTPS_PROXY)
  { name: 'CONNECT routed host, plain HTTP inside', on: 'single', method: 'CONNECT', url: 'api.github.com:80', expect: R('github') },
  { name: 'CONNECT routed host on 443 without a CA', on: 'single', method: 'CONNECT', url: 'api.openai.com:443', expect: DENY('INTERCEPT_DISABLED', 'openai') },
  { name: 'CONNECT allow-listed host: byte tunnel', on: 'single', method: 'CONNECT', url: 'localhost:{E}', expect: PASS },
  { name: 'CONNECT unknown host', on: 'single', method: 'CONNECT', url: 'evil.test:443', expect: DENY('NO_ROUTE') },
  { name: 'CONNECT without a port', on: 'single', method: 'CONNECT', url: 'api.openai.com', expect: BAD() },
  { name: 'CONNECT non-canonical IP', on: 'single', method: 'CONNECT', url: '127.1:443', expect: BAD() },
  // gateway mode (agents:), host-header form on
  { name: 'gateway: agent with route access', on: 'gateway', agent: 'alpha', method: 'GET', url: 'http://api.openai.com/v1/models', expect: R('openai') },
  { name: 'gateway: agent without route access', on: 'gateway', agent: 'beta', method: 'GET', url: 'http://api.openai.com/v1/models', expect: DENY('AGENT_ROUTE_DENIED', 'openai') },
  { name: 'gateway: no agent identified', on: 'gateway', method: 'GET', url: 'http://api.openai.com/v1/models', expect: DENY('PROXY_AUTH_REQUIRED') },
  { name: 'gateway: unknown token', on: 'gateway', agent: 'nobody', method: 'GET', url: 'http://api.github.com/user', expect: DENY('PROXY_AUTH_REQUIRED') },
  { name: 'gateway: beta uses its own route', on: 'gateway', agent: 'beta', method: 'POST', url: 'http://api.anthropic.com/v1/messages', expect: R('anthropic') },
  { name: 'DISAGREEMENT 2: host-header form', on: 'gateway', agent: 'alpha', method: 'GET', url: '/v1/models', host: 'api.openai.com', expect: R('openai'), cli: true },
  { name: 'host-header form, host without route', on: 'gateway', agent: 'alpha', method: 'GET', url: '/x', host: 'evil.test', expect: DENY('NO_ROUTE') },
  { name: 'host-header form, route the agent may not use', on: 'gateway', agent: 'beta', method: 'GET', url: '/user', host: 'api.github.com', expect: DENY('AGENT_ROUTE_DENIED', 'github') },
  { name: 'gateway base URL, no prefix: host-header form on the sidecar address', on: 'gateway', agent: 'alpha', method: 'GET', url: 'http://127.0.0.1:{P}/x', expect: DENY('NO_ROUTE') },
  { name: 'gateway base URL with /_agent/<token>', on: 'gateway', method: 'POST', url: 'http://127.0.0.1:{P}/_agent/{T:beta}/anthropic/v1/messages', expect: R('anthropic') },
  { name: 'gateway /_agent/<token> of an agent without access', on: 'gateway', method: 'GET', url: 'http://127.0.0.1:{P}/_agent/{T:alpha}/anthropic/v1/messages', expect: DENY('AGENT_ROUTE_DENIED', 'anthropic') },
  { name: 'gateway: passthrough for any agent', on: 'gateway', agent: 'beta', method: 'GET', url: 'http://localhost:{E}/x', expect: PASS },
  { name: 'gateway: CONNECT with access', on: 'gateway', agent: 'alpha', method: 'CONNECT', url: 'api.github.com:80', expect: R('github') },
  { name: 'gateway: CONNECT without identification', on: 'gateway', method: 'CONNECT', url: 'api.github.com:80', expect: DENY('PROXY_AUTH_REQUIRED') },
];

const SINGLE_ROUTES = `${STANDARD_ROUTES.replace('  unmatched: deny\n', '  unmatched: deny\n  allow: ["localhost:${ECHO_PORT}"]\n')}  - name: readonly
    match: { host: api.readonly.test, methods: [GET] }
    upstream: \${ECHO}
    allow_plaintext: true
`;
const GATEWAY_YAML = `
egress: { unmatched: deny, allow: ["localhost:\${ECHO_PORT}"], block_private_addresses: false, host_header_form: true }
routes:
  - { name: openai, match: { host: api.openai.com, path: /v1/* }, prefix: /openai, upstream: "\${ECHO}", allow_plaintext: true, credential: openai/api-key }
  - name: anthropic
    match: { host: api.anthropic.com }
    prefix: /anthropic
    upstream: "\${ECHO}"
    allow_plaintext: true
    credential: anthropic/api-key
    inject: { header_type: custom, header_name: x-api-key }
  - { name: github, match: { host: api.github.com }, upstream: "\${ECHO}", allow_plaintext: true, credential: github/token }
agents:
  - { name: alpha, token_sha256: ${sha256(ALPHA)}, routes: [openai, github] }
  - { name: beta, token_sha256: ${sha256(BETA)}, routes: [anthropic] }
`;
const GATEWAY_CREDS = { 'openai/api-key': 'sk-contract-openai-SECRET-1', 'anthropic/api-key': 'sk-contract-ant-SECRET-2', 'github/token': 'ghp_contract_SECRET_3' };

interface Side {
  readonly port: number;
  readonly echoPort: number;
  readonly adminUrl: string;
  /** routes.yaml as the CLI would load it: the file the sidecar runs, with the port it bound. */
  readonly cliConfig: string;
  requestLines(): Array<Record<string, unknown>>;
}

let single: Stack;
let gateway: Gateway;
const sides: Partial<Record<Row['on'], Side>> = {};

/** The file the sidecar was started from, with `listen:` set to the port it bound (as a user's file would say). */
async function cliConfigFor(configPath: string, port: number): Promise<string> {
  const path = configPath.replace(/\.yaml$/, '.cli.yaml');
  await writeFile(path, (await readFile(configPath, 'utf8')).replace('listen: 127.0.0.1:0', `listen: 127.0.0.1:${port}`));
  return path;
}

before(async () => {
  single = await startStack({ routes: SINGLE_ROUTES });
  gateway = await startGateway({ identities: [], credentials: GATEWAY_CREDS, yaml: GATEWAY_YAML, tokens: [ALPHA, BETA] });
  sides.single = {
    port: single.proxyPort,
    echoPort: single.echo.port,
    adminUrl: single.adminUrl,
    cliConfig: await cliConfigFor(single.configPath, single.proxyPort),
    requestLines: () => single.requestLines(),
  };
  sides.gateway = {
    port: gateway.sidecar.proxy.port,
    echoPort: gateway.echo.port,
    adminUrl: gateway.adminUrl,
    cliConfig: await cliConfigFor(gateway.configPath, gateway.sidecar.proxy.port),
    requestLines: () => gateway.requestLines(),
  };
});
after(async () => {
  await single.close();
  await gateway.close();
});

function fill(text: string, side: Side): string {
  return text
    .replaceAll('{P}', String(side.port))
    .replaceAll('{E}', String(side.echoPort))
    .replace(/\{T:([a-z]+)\}/g, (_m, name: string) => TOKENS[name]!);
}

interface Answer {
  readonly decision: Decision;
  readonly code: string | null;
  readonly route: string | null;
  readonly form: string | null;
}

function fromExplanation(e: Explanation): Answer {
  return { decision: e.decision, code: e.code, route: e.route, form: e.form };
}

function statusClass(status: number): Decision {
  return status === 400 ? 'refused' : 'deny';
}

async function waitForLine(side: Side, from: number, pick: (l: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
  for (let i = 0; i < 200; i++) {
    const found = side.requestLines().slice(from).find(pick);
    if (found !== undefined) return found;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('no canonical line for the request');
}

/** Send the row to the live proxy the way an agent would, and read what happened. */
async function live(row: Row, side: Side): Promise<Answer> {
  const url = fill(row.url, side);
  const auth = row.agent === undefined ? '' : `Proxy-Authorization: Bearer ${TOKENS[row.agent]}\r\n`;
  const from = side.requestLines().length;
  if (row.method === 'CONNECT') return liveConnect(url, auth, side, from);
  let target = url;
  let host = row.host;
  const own = /^http:\/\/(?:127\.0\.0\.1|localhost):(\d+)(\/.*)$/.exec(url);
  if (own !== null && Number(own[1]) === side.port) {
    // A base URL: the agent's HTTP client sends origin-form to the sidecar.
    target = own[2]!;
    host ??= `127.0.0.1:${side.port}`;
  } else if (!url.startsWith('/')) {
    host ??= /^[a-z]+:\/\/([^/]+)/i.exec(url)?.[1];
  } else {
    host ??= `127.0.0.1:${side.port}`;
  }
  const body = row.method === 'POST' ? '{}' : '';
  const head = `${row.method} ${target} HTTP/1.1\r\nHost: ${host}\r\n${auth}Connection: close\r\n` + (body ? `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n` : '');
  const r = await rawRequest(side.port, `${head}\r\n${body}`);
  const line = await waitForLine(side, from, (l) => l.form !== 'connect');
  const code = r.headers['x-sanctum-error'] ?? null;
  assert.equal(line.code ?? null, code, `${row.name}: the canonical line and the reply agree`);
  if (code !== null) return { decision: statusClass(r.status), code, route: (line.route as string | null) ?? null, form: line.form as string };
  assert.equal(r.status, 200, `${row.name}: answered by the echo upstream`);
  const decision = line.outcome === 'forwarded' ? 'route' : line.outcome === 'passthrough' ? 'passthrough' : 'deny';
  return { decision, code: null, route: (line.route as string | null) ?? null, form: line.form as string };
}

/** CONNECT, then (when established) one plain HTTP request inside, then close; the tunnel's line tells the decision. */
function liveConnect(authority: string, auth: string, side: Side, from: number): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const sock = connect(side.port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let established = false;
    const done = (): void => {
      sock.destroy();
      waitForLine(side, from, (l) => l.form === 'connect').then((line) => {
        const d = line.decision as string;
        const decision: Decision = d === 'tunnel' ? 'passthrough' : d === 'refused' ? statusClass(line.status as number) : 'route';
        resolve({ decision, code: (line.code as string | null) ?? null, route: (line.route as string | null) ?? null, form: 'connect' });
      }, reject);
    };
    const timer = setTimeout(done, 3000);
    sock.on('connect', () => sock.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n${auth}\r\n`));
    sock.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      if (established) return;
      const text = buf.toString('latin1');
      if (!text.includes('\r\n\r\n')) return;
      const r = parseRaw(text);
      if (r.status !== 200) return;
      established = true;
      buf = Buffer.alloc(0);
      sock.write(`GET /inside HTTP/1.1\r\nHost: ${authority.replace(/:80$/, '')}\r\nConnection: close\r\n\r\n`);
    });
    sock.on('end', () => {
      clearTimeout(timer);
      done();
    });
    sock.on('error', () => undefined);
  });
}

async function admin(row: Row, side: Side): Promise<Answer> {
  const q = new URLSearchParams({ method: row.method, url: fill(row.url, side) });
  if (row.host !== undefined) q.set('host', row.host);
  if (row.agent !== undefined) q.set('agent', row.agent);
  const res = await request(`${side.adminUrl}/explain?${q.toString()}`);
  assert.equal(res.statusCode, 200);
  const text = await res.body.text();
  recordEvidence('explain', [text]);
  return fromExplanation(JSON.parse(text) as Explanation);
}

async function viaFunction(row: Row, side: Side): Promise<Answer> {
  // Exactly what the CLI does with its arguments.
  const config = await loadConfigFile(side.cliConfig, {});
  const e = explain(buildSnapshot(config, 1), { method: row.method, url: fill(row.url, side), host: row.host, agent: row.agent }, configuredListeners(config));
  recordEvidence('explain', [JSON.stringify(e)]);
  return fromExplanation(e);
}

const run = promisify(execFile);
async function viaCli(row: Row, side: Side): Promise<Answer> {
  const args = ['--import', 'tsx', 'src/main.ts', 'explain', row.method, fill(row.url, side), '--config', side.cliConfig, '--json'];
  if (row.host !== undefined) args.push('--host', row.host);
  if (row.agent !== undefined) args.push('--agent', row.agent);
  let stdout: string;
  let exit = 0;
  try {
    ({ stdout } = await run(process.execPath, args, { env: { ...process.env } }));
  } catch (err) {
    const e = err as { code: number; stdout: string };
    ({ stdout } = e);
    exit = e.code;
  }
  recordEvidence('explain', [stdout]);
  const e = JSON.parse(stdout) as Explanation;
  assert.equal(exit, e.decision === 'route' || e.decision === 'passthrough' ? 0 : 3, 'exit 0 for route/passthrough, 3 otherwise');
  return fromExplanation(e);
}

function assertExpected(what: string, row: Row, got: Answer): void {
  const want = row.expect;
  const msg = `${row.name} (${what}): got ${JSON.stringify(got)}`;
  assert.equal(got.decision, want.decision, msg);
  assert.equal(got.code, want.code ?? null, msg);
  if (want.route !== undefined) assert.equal(got.route, want.route, msg);
}

test('the table spans every request form, with at least 40 rows', () => {
  assert.ok(ROWS.length >= 40, `${ROWS.length} rows`);
  const kinds = new Set(ROWS.map((r) => (r.method === 'CONNECT' ? 'connect' : r.url.startsWith('/') ? (r.host ? 'host-header' : 'prefix') : r.url.includes('{P}') ? 'base-url' : 'absolute')));
  assert.deepEqual([...kinds].sort(), ['absolute', 'base-url', 'connect', 'host-header', 'prefix']);
  for (const d of ['route', 'passthrough', 'deny', 'refused']) assert.ok(ROWS.some((r) => r.expect.decision === d), d);
});

for (const row of ROWS) {
  test(`contract: ${row.name}`, async () => {
    const side = sides[row.on]!;
    const got = await live(row, side);
    assertExpected('live proxy', row, got);
    const fn = await viaFunction(row, side);
    assertExpected('explain function', row, fn);
    assert.equal(fn.route, got.route, `${row.name}: same route as the live proxy`);
    if (fn.form !== null) assert.equal(fn.form, got.form, `${row.name}: same request form as the live proxy`);
    const adm = await admin(row, side);
    assert.deepEqual(adm, fn, `${row.name}: admin /explain agrees with the function`);
    if (row.cli === true) assert.deepEqual(await viaCli(row, side), fn, `${row.name}: the CLI agrees with the function`);
  });
}
