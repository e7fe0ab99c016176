/**
 * The `use` operations the dev vault performs with a credential, except
 * http_request (http-request.ts): http_header, sign and encrypt/decrypt. Each
 * takes the secret and the call's params and returns the wire result.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { Fault } from './fault.js';

export const HEADER_TYPES = ['bearer', 'api_key', 'basic', 'custom'] as const;
/** RFC 9110 §5.6.2 token. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** The header a credential becomes for `header_type` (vault-protocol.md). */
export function buildHeader(secret: string, path: string, headerType: unknown, headerName: unknown): [name: string, value: string] {
  if (/[\r\n\0]/.test(secret)) throw new Fault('INVALID_CREDENTIAL', `credential "${path}" contains CR, LF or NUL and cannot be sent in a header`);
  const type = headerType === undefined || headerType === null ? 'bearer' : headerType;
  switch (type) {
    case 'bearer':
      return ['Authorization', `Bearer ${secret}`];
    case 'api_key':
      return ['X-API-Key', secret];
    case 'basic':
      // The secret is stored as `user:pass`.
      return ['Authorization', `Basic ${Buffer.from(secret, 'utf8').toString('base64')}`];
    case 'custom':
      if (typeof headerName !== 'string' || !TOKEN.test(headerName)) {
        throw new Fault('INVALID_PARAMS', 'header_type custom needs a valid header_name');
      }
      return [headerName, secret];
    default:
      throw new Fault('INVALID_PARAMS', `unknown header_type (use ${HEADER_TYPES.join(', ')})`);
  }
}

export function httpHeader(secret: string, path: string, params: Record<string, unknown>): Record<string, unknown> {
  const [name, value] = buildHeader(secret, path, params.header_type, params.header_name);
  return { header_name: name, header_value: value };
}

export function sign(secret: string, params: Record<string, unknown>): Record<string, unknown> {
  const algorithm = params.algorithm ?? 'hmac-sha256';
  if (algorithm !== 'hmac-sha256') throw new Fault('INVALID_PARAMS', 'unsupported algorithm (use hmac-sha256)');
  if (typeof params.data !== 'string') throw new Fault('INVALID_PARAMS', 'sign needs string data');
  return { signature: createHmac('sha256', secret).update(params.data, 'utf8').digest('base64') };
}

const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * AES-256-GCM under a key derived from the per-process key and the credential path,
 * so a ciphertext opens only under the credential that made it. Output is
 * base64(iv || ciphertext || tag), opaque to the caller.
 */
export function encrypt(processKey: Buffer, path: string, params: Record<string, unknown>): Record<string, unknown> {
  if (typeof params.data !== 'string') throw new Fault('INVALID_PARAMS', 'encrypt needs string data');
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', keyFor(processKey, path), iv);
  const body = Buffer.concat([cipher.update(params.data, 'utf8'), cipher.final()]);
  return { ciphertext: Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64') };
}

export function decrypt(processKey: Buffer, path: string, params: Record<string, unknown>): Record<string, unknown> {
  if (typeof params.data !== 'string') throw new Fault('INVALID_PARAMS', 'decrypt needs string data');
  const raw = Buffer.from(params.data, 'base64');
  if (raw.length < IV_BYTES + TAG_BYTES) throw new Fault('DECRYPT_FAILED', 'ciphertext is too short');
  try {
    const decipher = createDecipheriv('aes-256-gcm', keyFor(processKey, path), raw.subarray(0, IV_BYTES));
    decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
    const plain = Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]);
    return { plaintext: plain.toString('utf8') };
  } catch {
    throw new Fault('DECRYPT_FAILED', 'ciphertext does not authenticate under this credential');
  }
}

function keyFor(processKey: Buffer, path: string): Buffer {
  return createHmac('sha256', processKey).update(`encrypt:${path}`).digest();
}
