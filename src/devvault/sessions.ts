/**
 * Authentication state of one dev vault connection: outstanding challenges and the
 * session they turn into. Challenges are single-use (deleted before checking),
 * short-lived and valid only on the connection that asked for them; a session is
 * bound to its connection and ends after its lifetime, or when a test forces it.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { verifyChallenge } from '../vault/ed25519.js';
import { Fault } from './fault.js';

interface Challenge {
  agent: string;
  challenge: string;
  expiresAt: number;
}

/** Enough for a client that retries; bounds memory for one that only asks. */
const MAX_CHALLENGES = 16;

export class ConnectionSession {
  agent: string | null = null;
  sessionId: string | null = null;
  #started = 0;
  #forcedExpired = false;
  readonly #former = new Set<string>();
  readonly #challenges = new Map<string, Challenge>();

  /** Issue a challenge for `agent` under `key` (the session id in dialect A). */
  issue(key: string, agent: string, ttlMs: number): string {
    if (this.#challenges.size >= MAX_CHALLENGES) {
      const oldest = this.#challenges.keys().next().value;
      if (oldest !== undefined) this.#challenges.delete(oldest);
    }
    const challenge = randomBytes(32).toString('hex');
    this.#challenges.set(key, { agent, challenge, expiresAt: performance.now() + ttlMs });
    return challenge;
  }

  /** Check a signature against the challenge under `key`; on success the connection is authenticated. */
  verify(key: string, signature: unknown, publicKeyOf: (agent: string) => Uint8Array | undefined, sessionId: string): string {
    const c = this.#challenges.get(key);
    this.#challenges.delete(key); // single use, whatever the outcome
    if (c === undefined) {
      throw new Fault('AUTH_FAILED', 'unknown or already used challenge', { suggestion: 'Call authenticate again for a fresh challenge.' });
    }
    if (performance.now() > c.expiresAt) throw new Fault('AUTH_FAILED', 'challenge expired', { suggestion: 'Answer the challenge promptly.' });
    const key32 = publicKeyOf(c.agent);
    if (key32 === undefined) throw new Fault('AUTH_FAILED', `agent "${c.agent}" is not registered`);
    if (typeof signature !== 'string' || !verifyChallenge(key32, c.challenge, signature)) {
      throw new Fault('AUTH_FAILED', `signature does not verify for agent "${c.agent}"`, {
        suggestion: "Check that the agent's key file matches the public key in dev-vault.yaml.",
      });
    }
    if (this.sessionId !== null) this.#former.add(this.sessionId);
    this.agent = c.agent;
    this.sessionId = sessionId;
    this.#started = performance.now();
    this.#forcedExpired = false;
    return c.agent;
  }

  /** A fresh session id. */
  static newId(): string {
    return randomUUID();
  }

  /** End the session now (test knob); the next call gets SESSION_EXPIRED. */
  expire(): void {
    this.#forcedExpired = true;
  }

  /**
   * The authenticated agent for a call. `sessionId` is the id the call carried, or
   * undefined for calls that carry none (release_lease, dialect B).
   */
  require(sessionId: unknown, ttlMs: number, carriesSession: boolean): string {
    if (this.agent === null || this.sessionId === null) {
      throw new Fault('AUTH_FAILED', 'not authenticated', { suggestion: 'Send authenticate and challenge_response first.' });
    }
    if (carriesSession && sessionId !== this.sessionId) {
      if (typeof sessionId === 'string' && this.#former.has(sessionId)) throw new Fault('SESSION_EXPIRED', 'session expired');
      throw new Fault('AUTH_FAILED', 'session_id does not belong to this connection');
    }
    if (this.#forcedExpired || performance.now() - this.#started > ttlMs) {
      throw new Fault('SESSION_EXPIRED', 'session expired', { suggestion: 'Authenticate again.' });
    }
    return this.agent;
  }
}
