/**
 * The harness of the hostile-input suite (issue 8). Each case is a raw-socket
 * conversation with a running sidecar plus the answers it must get; after every case
 * the harness checks, whatever the case:
 *
 *   - each answer has the expected status (and catalogue code when the sidecar answered);
 *   - upstreams received exactly the requests that were expected, nothing on a refused
 *     request (no bytes, no connection), and every forwarded request carried exactly
 *     one credential: its own route's;
 *   - no secret appears on any upstream's wire other than the one its route owns, in
 *     any answer the agent received, or in a log line;
 *   - the sidecar still serves the next good request.
 *
 * Routes: openai (host + /openai prefix, bearer), anthropic (host + /anthropic prefix,
 * x-api-key), github (host, bearer, cached) each on their own capture upstream; the
 * sentinel upstream is reachable only as an allow-listed passthrough host (127.0.0.1 on
 * its port) and must never see a credential. The sidecar's own proxy and admin ports and
 * the vault's are allow-listed on 127.0.0.1 too (egress.allow entries name their port),
 * so that cases aimed at them are refused by the address gate itself, not by the list.
 * Host-header form is on, so all three adapters (absolute, prefix, host-header) are exposed.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { test, before, after } from 'node:test';
import { SECRETS } from '../helpers/stack.js';
import { ledger, misroutedSecrets, touchedSince, type CaptureUpstream, type CapturedRequest } from '../helpers/capture-upstream.js';
import { startRig, type Rig } from '../helpers/sidecar-rig.js';
import { converse, type Conversation, type ConverseOptions, type Step } from '../helpers/wire.js';

export type UpName = 'openai' | 'anthropic' | 'github' | 'sentinel';

/** Ports a case may aim at. */
export interface Env {
  readonly proxyPort: number;
  readonly adminPort: number;
  readonly vaultPort: number;
  readonly sentinelPort: number;
  /** The capture upstreams, for steps that wait on what an upstream has seen. */
  readonly ups: Readonly<Record<string, CaptureUpstream>>;
}

/** One expected answer: from an upstream (`upstream`) or from the sidecar itself (`code`). */
export interface Answer {
  readonly status: number | readonly number[];
  /** The catalogue code in x-sanctum-error; null: the answer must not come from the catalogue; undefined: not checked. */
  readonly code?: string | null;
  /** The upstream that must have produced this answer (forwarded requests). */
  readonly upstream?: UpName;
}

export interface CaseContext {
  readonly rig: Rig;
  readonly env: Env;
  readonly conversation: Conversation;
  /** Requests each upstream received during the case. */
  readonly received: Readonly<Record<UpName, readonly CapturedRequest[]>>;
}

export interface HostileCase {
  readonly id: string;
  /** The attack, in a sentence. */
  readonly attack: string;
  readonly steps: (env: Env) => Step[];
  readonly opts?: ConverseOptions;
  /**
   * Answers in order. An empty list means the server must close (or stay silent)
   * without answering. `anyOf` lists acceptable alternatives (the first that matches the
   * statuses received is checked in full).
   */
  readonly answers: readonly Answer[] | { readonly anyOf: ReadonlyArray<readonly Answer[]> };
  /** The server must close the connection (e.g. after a framing error). */
  readonly mustClose?: boolean;
  /**
   * An upstream that may see a request which must then be aborted, never completed
   * (a body that turns bad after forwarding began).
   */
  readonly abortedOn?: UpName;
  /** Extra checks. */
  readonly check?: (c: CaseContext) => void | Promise<void>;
}

/** What each upstream must see as its one credential header. */
export const EXPECTED_CREDENTIAL: Readonly<Record<UpName, { name: string; value: string } | null>> = {
  openai: { name: 'authorization', value: `Bearer ${SECRETS.openai}` },
  anthropic: { name: 'x-api-key', value: SECRETS.anthropic },
  github: { name: 'authorization', value: `Bearer ${SECRETS.github}` },
  sentinel: null,
};

const SECRET_VALUES: Readonly<Record<string, string>> = { openai: SECRETS.openai, anthropic: SECRETS.anthropic, github: SECRETS.github };
const ALLOWED: Readonly<Record<string, readonly string[]>> = { openai: ['openai'], anthropic: ['anthropic'], github: ['github'], sentinel: [] };
const CREDENTIAL_HEADERS = new Set(['authorization', 'x-api-key', 'api-key', 'proxy-authorization']);

export const HOSTILE_ROUTES = (u: Readonly<Record<string, CaptureUpstream>>): string => `
egress:
  unmatched: deny
  block_private_addresses: false
  host_header_form: true
  allow: ["127.0.0.1"]
routes:
  - name: openai
    match: { host: api.openai.com, path: /v1/* }
    prefix: /openai
    upstream: ${u.openai!.origin}
    allow_plaintext: true
    credential: openai/api-key
    inject: { header_type: bearer }
  - name: anthropic
    match: { host: api.anthropic.com }
    prefix: /anthropic
    upstream: ${u.anthropic!.origin}
    allow_plaintext: true
    credential: anthropic/api-key
    inject: { header_type: custom, header_name: x-api-key }
  - name: github
    match: { host: api.github.com }
    upstream: ${u.github!.origin}
    allow_plaintext: true
    credential: github/token
    cache_ttl: 60s
    inject: { header_type: bearer }
`;

export const HOSTILE_CREDENTIALS: Record<string, string> = {
  'openai/api-key': SECRETS.openai,
  'anthropic/api-key': SECRETS.anthropic,
  'github/token': SECRETS.github,
};

/** Start one rig for a test file and register every case as its own test. */
export function registerHostileSuite(cases: readonly HostileCase[], opts: { extra?: string } = {}): void {
  const ids = new Set<string>();
  for (const c of cases) {
    assert.ok(!ids.has(c.id), `duplicate case id ${c.id}`);
    ids.add(c.id);
  }
  let rig: Rig;
  let env: Env;
  before(async () => {
    rig = await startRig({
      upstreams: ['openai', 'anthropic', 'github', 'sentinel'],
      routes: HOSTILE_ROUTES,
      credentials: HOSTILE_CREDENTIALS,
      ...(opts.extra !== undefined ? { extra: opts.extra } : {}),
    });
    env = { proxyPort: rig.proxyPort, adminPort: rig.adminPort, vaultPort: rig.vault!.port, sentinelPort: rig.ups.sentinel!.port, ups: rig.ups };
    // The listeners' ports are known only now: allow-list them (reload) so the gate is what refuses them.
    const ports = [env.sentinelPort, env.adminPort, env.proxyPort, env.vaultPort].map((p) => `"127.0.0.1:${p}"`).join(', ');
    await writeFile(rig.configPath, (await readFile(rig.configPath, 'utf8')).replace('allow: ["127.0.0.1"]', `allow: [${ports}]`));
    await rig.sidecar.reload();
  });
  after(async () => {
    // Whole-run checks: nothing misrouted, nothing secret in any log line.
    assert.deepEqual(misroutedSecrets(rig.all, SECRET_VALUES, ALLOWED), []);
    for (const line of rig.logs) for (const v of Object.values(SECRET_VALUES)) assert.ok(!line.includes(v), 'a log line carries a secret');
    await rig.close();
  });
  for (const c of cases) {
    test(`${c.id}: ${c.attack}`, async () => {
      await runCase(rig, env, c);
    });
  }
}

function statusOk(expected: Answer['status'], actual: number): boolean {
  return typeof expected === 'number' ? expected === actual : expected.includes(actual);
}

/** Run one case and every after-case check. */
export async function runCase(rig: Rig, env: Env, c: HostileCase): Promise<void> {
  const before = ledger(rig.all);
  const startIdx: Record<string, number> = {};
  for (const u of rig.all) startIdx[u.name] = u.requests.length;
  const alternatives = 'anyOf' in c.answers ? c.answers.anyOf : [c.answers];
  const conv = await converse(env.proxyPort, c.steps(env), { responses: Math.max(1, alternatives[0]!.length), ...c.opts });
  // Anything a refused request set in motion would show up by now.
  await new Promise((r) => setTimeout(r, 25));
  if (c.abortedOn !== undefined) {
    const u = rig.ups[c.abortedOn]!;
    const news = (): CapturedRequest[] => u.requests.slice(startIdx[u.name]);
    await u.waitUntil(() => news().every((r) => r.aborted || r.complete), 3000, 'the upstream request to end').catch(() => undefined);
  }
  const received = Object.fromEntries(rig.all.map((u) => [u.name, u.requests.slice(startIdx[u.name])])) as unknown as Record<UpName, CapturedRequest[]>;
  const where = `${c.id} (${c.attack})`;
  const summary = (): string =>
    `answers: ${conv.responses.map((r) => `${r.status} ${r.headers['x-sanctum-error'] ?? ''}`).join(' | ') || '(none)'}; closed: ${conv.closedByServer}; upstream requests: ${Object.entries(received)
      .filter(([, l]) => l.length > 0)
      .map(([n, l]) => `${n}×${l.length}`)
      .join(', ') || 'none'}`;

  // 1. The answers.
  const answers =
    alternatives.find((alt) => alt.length === conv.responses.length && alt.every((a, i) => statusOk(a.status, conv.responses[i]!.status))) ?? alternatives[0]!;
  assert.equal(conv.responses.length, answers.length, `${where}: number of answers. ${summary()}`);
  for (const [i, want] of answers.entries()) {
    const got = conv.responses[i]!;
    assert.ok(statusOk(want.status, got.status), `${where}: answer ${i + 1} status ${got.status}, expected ${JSON.stringify(want.status)}. ${summary()}`);
    if (want.code !== undefined) {
      assert.equal(got.headers['x-sanctum-error'] ?? null, want.code, `${where}: answer ${i + 1} x-sanctum-error. ${summary()}`);
    }
    if (want.upstream !== undefined) {
      assert.ok(got.complete, `${where}: answer ${i + 1} is complete`);
      const body = JSON.parse(got.body) as { upstream?: string };
      assert.equal(body.upstream, want.upstream, `${where}: answer ${i + 1} came from the wrong upstream`);
    }
  }
  if (c.mustClose) assert.ok(conv.closedByServer, `${where}: the server must close the connection. ${summary()}`);

  // 2. What reached the upstreams.
  const expectedPerUpstream: Record<string, number> = {};
  for (const a of answers) if (a.upstream !== undefined) expectedPerUpstream[a.upstream] = (expectedPerUpstream[a.upstream] ?? 0) + 1;
  const mayTouch = new Set(Object.keys(expectedPerUpstream));
  if (c.abortedOn !== undefined) mayTouch.add(c.abortedOn);
  const touched = touchedSince(rig.all, before);
  for (const name of touched) {
    assert.ok(mayTouch.has(name), `${where}: upstream "${name}" was reached by a request that must have been refused. ${summary()}`);
  }
  for (const u of rig.all) {
    const got = received[u.name as UpName];
    if (c.abortedOn === u.name) {
      for (const r of got) {
        assert.ok(!r.complete, `${where}: the upstream request on ${u.name} completed; it must be aborted, not completed truncated`);
        assert.ok(r.aborted, `${where}: the upstream request on ${u.name} was not aborted`);
      }
      continue;
    }
    assert.equal(got.length, expectedPerUpstream[u.name] ?? 0, `${where}: requests received by ${u.name}. ${summary()}`);
    for (const r of got) assertOneCredential(u.name as UpName, r, where);
  }

  // 3. Secrets: never back to the agent, never to the wrong upstream.
  for (const [name, v] of Object.entries(SECRET_VALUES)) {
    assert.ok(!conv.raw.includes(v), `${where}: the ${name} credential came back to the agent`);
  }
  assert.deepEqual(misroutedSecrets(rig.all, SECRET_VALUES, ALLOWED), [], `${where}: a credential reached the wrong upstream`);

  await c.check?.({ rig, env, conversation: conv, received });

  // 4. The sidecar still serves the next good request.
  await assertStillServes(rig, env, where);
}

/** Exactly one credential-bearing header, and it is the route's own. */
export function assertOneCredential(up: UpName, r: CapturedRequest, where: string): void {
  const creds: string[] = [];
  for (let i = 0; i < r.rawHeaders.length; i += 2) {
    const n = r.rawHeaders[i]!.toLowerCase();
    if (CREDENTIAL_HEADERS.has(n)) creds.push(`${n}: ${r.rawHeaders[i + 1]}`);
  }
  const want = EXPECTED_CREDENTIAL[up];
  if (want === null) {
    for (const v of Object.values(SECRET_VALUES)) assert.ok(!creds.some((c) => c.includes(v)), `${where}: ${up} received a vault credential`);
    return;
  }
  assert.deepEqual(creds, [`${want.name}: ${want.value}`], `${where}: ${up} must receive exactly its own credential`);
}

export async function assertStillServes(rig: Rig, env: Env, where: string): Promise<void> {
  const A = rig.ups.openai!;
  const n = A.requests.length;
  const conv = await converse(env.proxyPort, ['GET http://api.openai.com/v1/models HTTP/1.1\r\nHost: api.openai.com\r\nConnection: close\r\n\r\n'], { quietMs: 3000 });
  assert.equal(conv.responses[0]?.status, 200, `${where}: the sidecar no longer serves a good request: ${conv.raw.slice(0, 200)}`);
  assert.equal(A.requests.length, n + 1);
  assertOneCredential('openai', A.requests[n]!, `${where} (follow-up)`);
}

/** A request line plus headers, CRLF-terminated, with the blank line. */
export function req(line: string, ...headers: string[]): string {
  return `${line}\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n`;
}
