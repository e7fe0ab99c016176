/**
 * The challenge-response handshake (vault-protocol.md, "Authentication"): ask for a
 * challenge, sign its hex-decoded bytes with the agent's Ed25519 seed, and expect
 * `{authenticated: true}`. Used on every new connection and again on SESSION_EXPIRED.
 */
import type { VaultConnection } from './connection.js';
import { signChallenge } from './ed25519.js';
import { VaultAuthFailedError } from './errors.js';
import { isRecord, parseAuthenticate } from './messages.js';

/** Run the handshake on `conn`; resolves with the new session id. Each step gets `timeoutMs`. */
export async function authenticate(conn: VaultConnection, agent: string, seed: Uint8Array, timeoutMs: number): Promise<string> {
  const { sessionId, challenge } = parseAuthenticate(await conn.request('authenticate', { agent_name: agent }, timeoutMs));
  const signature = signChallenge(seed, challenge);
  const result = await conn.request('challenge_response', { session_id: sessionId, signature }, timeoutMs);
  if (!isRecord(result) || result.authenticated !== true) {
    throw new VaultAuthFailedError({ message: `the vault did not accept agent "${agent}"'s signature` });
  }
  return sessionId;
}
