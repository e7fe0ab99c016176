/**
 * A framed TCP relay between the sidecar and a (development) vault, for fault tests.
 * It decodes frames in both directions, so it can count calls that are waiting for an
 * answer at the vault, and can replace the vault's answers with garbage: frames that
 * are not JSON, not UTF-8, too large, answers to the wrong id, answers of the wrong
 * shape, or a frame cut off by a closed connection. The handshake (`authenticate`,
 * `challenge_response`) always passes untouched, so garbage arrives on an
 * authenticated session, the way a broken or hostile vault would send it.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { encodeFrame, FrameDecoder } from '../../src/vault/framing.js';

export type GarbageKind =
  | 'not-json'
  | 'bad-utf8'
  | 'oversized-length'
  | 'zero-length'
  | 'wrong-id'
  | 'no-result-no-error'
  | 'result-not-object'
  | 'missing-header-value'
  | 'header-value-crlf'
  | 'header-name-invalid'
  | 'error-not-object'
  | 'truncated-then-close';

export const GARBAGE_KINDS: readonly GarbageKind[] = [
  'not-json',
  'bad-utf8',
  'oversized-length',
  'zero-length',
  'wrong-id',
  'no-result-no-error',
  'result-not-object',
  'missing-header-value',
  'header-value-crlf',
  'header-name-invalid',
  'error-not-object',
  'truncated-then-close',
];

export interface VaultRelay {
  readonly port: number;
  /** Calls (other than the handshake) sent by the sidecar and not yet answered by the vault. */
  outstanding(): number;
  /** Highest `outstanding()` since the last reset. */
  maxOutstanding(): number;
  resetMax(): void;
  /** Non-handshake calls seen. */
  calls(): number;
  /** Replace answers to non-handshake calls with `kind`; null to pass answers through again. */
  setGarbage(kind: GarbageKind | null): void;
  close(): Promise<void>;
}

const HANDSHAKE = new Set(['authenticate', 'challenge_response']);

function frameOf(body: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt32BE(body.length, 0);
  return Buffer.concat([h, body]);
}

/** The bytes the relay sends instead of the vault's answer to call `id`. */
function garbage(kind: GarbageKind, id: number): { bytes: Buffer; close: boolean } {
  switch (kind) {
    case 'not-json':
      return { bytes: frameOf(Buffer.from(`{"id":${id},"result":{"header_name":"authorization",`)), close: false };
    case 'bad-utf8':
      return { bytes: frameOf(Buffer.concat([Buffer.from(`{"id":${id},"result":"`), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}')])), close: false };
    case 'oversized-length': {
      const h = Buffer.alloc(4);
      h.writeUInt32BE(0xffffffff, 0);
      return { bytes: Buffer.concat([h, Buffer.from('{"id":')]), close: false };
    }
    case 'zero-length':
      return { bytes: Buffer.alloc(4), close: false };
    case 'wrong-id':
      return { bytes: encodeFrame({ id: id + 100_000, result: { header_name: 'authorization', header_value: 'Bearer sk-wrong-id' } }), close: false };
    case 'no-result-no-error':
      return { bytes: encodeFrame({ id }), close: false };
    case 'result-not-object':
      return { bytes: encodeFrame({ id, result: ['authorization', 'Bearer x'] }), close: false };
    case 'missing-header-value':
      return { bytes: encodeFrame({ id, result: { header_name: 'authorization' } }), close: false };
    case 'header-value-crlf':
      return { bytes: encodeFrame({ id, result: { header_name: 'authorization', header_value: 'Bearer x\r\nX-Injected: 1' } }), close: false };
    case 'header-name-invalid':
      return { bytes: encodeFrame({ id, result: { header_name: 'Authorization: Bearer x\r\nX', header_value: 'y' } }), close: false };
    case 'error-not-object':
      return { bytes: encodeFrame({ id, error: 42 }), close: false };
    case 'truncated-then-close': {
      const full = encodeFrame({ id, result: { header_name: 'authorization', header_value: 'Bearer truncated' } });
      return { bytes: full.subarray(0, 12), close: true };
    }
  }
}

export async function startVaultRelay(target: { host: string; port: number }): Promise<VaultRelay> {
  const pending = new Map<string, string>();
  let max = 0;
  let calls = 0;
  let mode: GarbageKind | null = null;
  let connIdx = 0;
  const sockets = new Set<Socket>();

  const server: Server = createServer((client) => {
    const idx = connIdx++;
    const vault = connect(target.port, target.host);
    sockets.add(client);
    sockets.add(vault);
    const methods = new Map<number, string>();
    const up = new FrameDecoder();
    const down = new FrameDecoder();
    const end = (): void => {
      client.destroy();
      vault.destroy();
      for (const k of [...pending.keys()]) if (k.startsWith(`${idx}:`)) pending.delete(k);
    };
    client.on('error', end);
    vault.on('error', end);
    client.on('close', () => {
      sockets.delete(client);
      end();
    });
    vault.on('close', () => {
      sockets.delete(vault);
      end();
    });
    client.on('data', (chunk: Buffer) => {
      let msgs: unknown[];
      try {
        msgs = up.push(chunk);
      } catch {
        end();
        return;
      }
      for (const m of msgs) {
        const msg = m as { id: number; method: string };
        methods.set(msg.id, msg.method);
        if (!HANDSHAKE.has(msg.method)) {
          calls++;
          pending.set(`${idx}:${msg.id}`, msg.method);
          max = Math.max(max, pending.size);
        }
        vault.write(encodeFrame(m));
      }
    });
    vault.on('data', (chunk: Buffer) => {
      let msgs: unknown[];
      try {
        msgs = down.push(chunk);
      } catch {
        end();
        return;
      }
      for (const m of msgs) {
        const msg = m as { id: number };
        const method = methods.get(msg.id) ?? '';
        methods.delete(msg.id);
        pending.delete(`${idx}:${msg.id}`);
        if (client.destroyed) continue;
        if (mode !== null && !HANDSHAKE.has(method)) {
          const g = garbage(mode, msg.id);
          client.write(g.bytes);
          if (g.close) client.end();
        } else {
          client.write(encodeFrame(m));
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    outstanding: () => pending.size,
    maxOutstanding: () => max,
    resetMax: () => void (max = pending.size),
    calls: () => calls,
    setGarbage: (kind) => void (mode = kind),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
