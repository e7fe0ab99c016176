/**
 * The dev vault's methods, dialect A (vault-protocol.md) with dialect B mapped onto
 * the same code. Each handler checks, in order: session, rate limit, lock, policy,
 * credential; then performs the operation. Every call is audited once by
 * `dispatch`, with the refusal's message as reason; no message here contains a
 * credential value.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { DevVaultSettings } from './config.js';
import { Fault } from './fault.js';
import { httpRequest } from './http-request.js';
import * as ops from './operations.js';
import { canList, decide, OPERATIONS, type Action } from './policy.js';
import { ConnectionSession } from './sessions.js';
import type { AuditLog } from './audit.js';

/** Shared state of one running dev vault. */
export interface VaultContext {
  settings: DevVaultSettings;
  locked: boolean;
  leases: Map<string, { agent: string; path: string; expiresAt: number }>;
  processKey: Buffer;
  rate: RateLimiter | undefined;
  audit: AuditLog;
  /** Aborted on close, ending in-flight http_requests. */
  closing: AbortSignal;
}

export type Answer = { result: unknown } | { error: Record<string, unknown> };

interface Call {
  ctx: VaultContext;
  conn: ConnectionSession;
  params: Record<string, unknown>;
  /** Filled in as the handler learns them, for the audit line. */
  agent: string | null;
  path: string | null;
  operation: string | null;
  reason: string;
}

type Handler = (c: Call) => Promise<unknown> | unknown;

const HANDLERS: Record<string, Handler> = {
  authenticate: (c) => {
    const agent = agentName(c, c.params.agent_name);
    const sessionId = ConnectionSession.newId();
    return { session_id: sessionId, challenge: c.conn.issue(sessionId, agent, c.ctx.settings.challengeTtlMs) };
  },
  challenge_response: (c) => {
    const sid = c.params.session_id;
    if (typeof sid !== 'string') throw new Fault('AUTH_FAILED', 'challenge_response needs session_id');
    c.agent = c.conn.verify(sid, c.params.signature, (a) => c.ctx.settings.agents.get(a), sid);
    return { authenticated: true };
  },
  use: (c) => use(c, true),
  retrieve: (c) => retrieve(c, true),
  list: (c) => ({ credentials: list(c, true) }),
  release_lease: (c) => releaseLease(c),
  // Dialect B (Rust SDK): the session is the connection's; no session_id in params.
  'auth.challenge': (c) => ({ challenge: c.conn.issue(`b:${String(c.params.agent)}`, agentName(c, c.params.agent), c.ctx.settings.challengeTtlMs) }),
  'auth.verify': (c) => {
    const sessionId = ConnectionSession.newId();
    c.agent = c.conn.verify(`b:${String(c.params.agent)}`, c.params.signature, (a) => c.ctx.settings.agents.get(a), sessionId);
    return { authenticated: true, session_id: sessionId };
  },
  'credential.retrieve': async (c) => ({ path: c.params.path, ...(await retrieve(c, false)) }),
  'credential.list': (c) => list(c, false),
  'credential.use': async (c) => ({ success: true, output: await use(c, false) }),
  'lease.release': (c) => releaseLease(c),
};

/** Run one request and audit it. Never throws: every failure becomes a wire error. */
export async function dispatch(ctx: VaultContext, conn: ConnectionSession, method: string, params: Record<string, unknown>, log: (l: string) => void): Promise<Answer> {
  const call: Call = {
    ctx,
    conn,
    params,
    agent: conn.agent,
    path: typeof params.path === 'string' ? params.path.slice(0, 256) : null,
    operation: typeof params.operation === 'string' ? params.operation.slice(0, 64) : null,
    reason: 'ok',
  };
  let answer: Answer;
  try {
    const handler = Object.hasOwn(HANDLERS, method) ? HANDLERS[method] : undefined;
    if (handler === undefined) throw new Fault('UNKNOWN_METHOD', `unknown method "${method.slice(0, 64)}"`);
    answer = { result: await handler(call) };
  } catch (err) {
    let fault = err;
    if (!(err instanceof Fault)) {
      log(`dev vault: internal error in ${method}: ${(err as Error).message}`);
      fault = new Fault('INTERNAL', 'internal dev vault error');
    }
    call.reason = (fault as Fault).message;
    answer = { error: (fault as Fault).toWire() };
  }
  ctx.audit.record({
    agent: call.agent,
    method: method.slice(0, 64),
    path: call.path,
    operation: call.operation,
    allowed: 'result' in answer,
    reason: call.reason,
  });
  return answer;
}

function agentName(c: Call, name: unknown): string {
  if (typeof name !== 'string' || name === '') throw new Fault('AUTH_FAILED', 'agent name is required');
  c.agent = name.slice(0, 128);
  if (!c.ctx.settings.agents.has(name)) {
    throw new Fault('AUTH_FAILED', `agent "${c.agent}" is not registered`, {
      suggestion: 'Run `sanctum-sidecar keygen <agent>` and add its public key under agents: in dev-vault.yaml.',
    });
  }
  return name;
}

/** Session, rate limit, lock, policy and credential checks shared by use and retrieve. */
function authorise(c: Call, action: Action, carriesSession: boolean, extra: { operation?: string } = {}): { agent: string; path: string; secret: string } {
  const agent = begin(c, carriesSession);
  if (typeof c.params.path !== 'string' || c.params.path === '') throw new Fault('INVALID_PARAMS', `${action} needs a path`);
  const path = c.params.path;
  if (c.ctx.locked) throw new Fault('VAULT_LOCKED', 'the vault is locked', { suggestion: 'Unlock the vault and retry.' });
  const decision = decide(c.ctx.settings.policies, { agent, action, path, ...extra });
  if (!decision.allowed) throw new Fault(decision.code, decision.reason);
  c.reason = `allowed by policy "${decision.policy}"`;
  const cred = c.ctx.settings.credentials.get(path);
  if (cred === undefined) throw new Fault('CREDENTIAL_NOT_FOUND', `no credential at "${path}"`);
  if (cred.value === undefined) throw new Fault('CREDENTIAL_NOT_FOUND', `credential "${path}" comes from environment variable ${cred.env}, which is not set`);
  return { agent, path, secret: cred.value };
}

function begin(c: Call, carriesSession: boolean): string {
  const agent = c.conn.require(c.params.session_id, c.ctx.settings.sessionTtlMs, carriesSession);
  c.agent = agent;
  const wait = c.ctx.rate?.take(agent);
  if (wait !== undefined) throw new Fault('RATE_LIMITED', 'too many requests', { context: { retry_after: wait } });
  return agent;
}

async function use(c: Call, carriesSession: boolean): Promise<unknown> {
  const operation = c.params.operation;
  if (typeof operation !== 'string' || !(OPERATIONS as readonly string[]).includes(operation)) {
    begin(c, carriesSession);
    throw new Fault('INVALID_PARAMS', `unknown operation (use ${OPERATIONS.join(', ')})`);
  }
  const { agent, path, secret } = authorise(c, 'use', carriesSession, { operation });
  const p = isRecord(c.params.params) ? c.params.params : {};
  switch (operation) {
    case 'http_header':
      return ops.httpHeader(secret, path, p);
    case 'http_request':
      return httpRequest(secret, path, p, {
        allowLoopback: c.ctx.settings.allowLoopback,
        signal: c.ctx.closing,
        checkHost: (host) => {
          const d = decide(c.ctx.settings.policies, { agent, action: 'use', path, operation, host });
          if (!d.allowed) throw new Fault(d.code, d.reason);
        },
      });
    case 'sign':
      return ops.sign(secret, p);
    case 'encrypt':
      return ops.encrypt(c.ctx.processKey, path, p);
    default:
      return ops.decrypt(c.ctx.processKey, path, p);
  }
}

const DEFAULT_LEASE_S = 300;
const MAX_LEASE_S = 86_400;

function retrieve(c: Call, carriesSession: boolean): Record<string, unknown> {
  const { agent, path, secret } = authorise(c, 'retrieve', carriesSession);
  const asked = typeof c.params.ttl === 'number' && c.params.ttl > 0 ? c.params.ttl : DEFAULT_LEASE_S;
  const ttl = Math.min(Math.ceil(asked), MAX_LEASE_S);
  const now = performance.now();
  for (const [id, l] of c.ctx.leases) if (l.expiresAt < now) c.ctx.leases.delete(id);
  const leaseId = randomUUID();
  c.ctx.leases.set(leaseId, { agent, path, expiresAt: now + ttl * 1000 });
  return { value: Buffer.from(secret, 'utf8').toString('hex'), lease_id: leaseId, ttl };
}

function list(c: Call, carriesSession: boolean): Record<string, unknown>[] {
  const agent = begin(c, carriesSession);
  const out: Record<string, unknown>[] = [];
  for (const [path, cred] of c.ctx.settings.credentials) {
    if (!canList(c.ctx.settings.policies, agent, path)) continue;
    out.push({ path, ...(cred.type !== undefined ? { type: cred.type } : {}), ...(cred.tags !== undefined ? { tags: cred.tags } : {}) });
  }
  return out;
}

function releaseLease(c: Call): Record<string, never> {
  const agent = begin(c, false);
  const id = c.params.lease_id;
  const lease = typeof id === 'string' ? c.ctx.leases.get(id) : undefined;
  if (lease === undefined || lease.agent !== agent) throw new Fault('NOT_FOUND', 'no such lease');
  c.path = lease.path;
  c.ctx.leases.delete(id as string);
  return {};
}

/** Fixed one-second windows per agent: enough to produce RATE_LIMITED in tests. */
export class RateLimiter {
  readonly #perSecond: number;
  readonly #windows = new Map<string, { start: number; count: number }>();

  constructor(perSecond: number) {
    this.#perSecond = perSecond;
  }

  /** Undefined when allowed; otherwise seconds to wait. */
  take(agent: string): number | undefined {
    const now = performance.now();
    let w = this.#windows.get(agent);
    if (w === undefined || now - w.start >= 1000) this.#windows.set(agent, (w = { start: now, count: 0 }));
    if (w.count < this.#perSecond) {
      w.count++;
      return undefined;
    }
    return Math.max(1, Math.ceil((w.start + 1000 - now) / 1000));
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
