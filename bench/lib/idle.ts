/**
 * Idle keep-alive connections: open N connections to the proxy, send one request on
 * each (so every connection is a real, used HTTP/1.1 keep-alive connection with the
 * proxy's per-connection state), read the answer, then leave them open and silent
 * while the caller measures the proxy's memory.
 */
import net from 'node:net';

export interface IdleTarget {
  readonly port: number;
  /** Origin- or absolute-form path of a small GET. */
  readonly path: string;
  readonly host: string;
}

export interface IdleSet {
  readonly opened: number;
  readonly failed: number;
  readonly firstError: string | undefined;
  /** Connections the peer has closed since they were opened. */
  closedByPeer(): number;
  closeAll(): void;
}

function openOne(t: IdleTarget, timeoutMs: number, onPeerClose: () => void): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port: t.port });
    let buf = '';
    let done = false;
    const timer = setTimeout(() => fail(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs);
    const fail = (e: Error): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      reject(e);
    };
    sock.on('error', (e) => fail(e));
    sock.on('close', () => {
      if (done) onPeerClose();
      else fail(new Error('closed before the answer'));
    });
    sock.on('connect', () => sock.write(`GET ${t.path} HTTP/1.1\r\nHost: ${t.host}\r\n\r\n`));
    sock.on('data', (d: Buffer) => {
      if (done) return;
      buf += d.toString('latin1');
      const headEnd = buf.indexOf('\r\n\r\n');
      if (headEnd === -1) return;
      const status = /^HTTP\/1\.1 (\d{3})/.exec(buf)?.[1];
      const len = Number(/\r\ncontent-length:\s*(\d+)/i.exec(buf.slice(0, headEnd + 2))?.[1] ?? -1);
      if (status !== '200') return fail(new Error(`status ${status ?? '?'}: ${buf.slice(0, 200)}`));
      if (len >= 0 && buf.length < headEnd + 4 + len) return;
      if (len < 0 && !buf.endsWith('0\r\n\r\n')) return;
      done = true;
      clearTimeout(timer);
      resolve(sock);
    });
  });
}

/** Opens `count` used keep-alive connections, `concurrency` at a time, within `timeoutMs` overall. */
export async function openIdle(t: IdleTarget, count: number, concurrency: number, timeoutMs: number): Promise<IdleSet> {
  const sockets: net.Socket[] = [];
  let failed = 0;
  let firstError: string | undefined;
  let peerClosed = 0;
  const deadline = Date.now() + timeoutMs;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count && Date.now() < deadline) {
      next += 1;
      try {
        sockets.push(await openOne(t, 10_000, () => (peerClosed += 1)));
      } catch (e) {
        failed += 1;
        firstError ??= e instanceof Error ? e.message : String(e);
        if (failed > 20) return;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return {
    opened: sockets.length,
    failed,
    firstError,
    closedByPeer: () => peerClosed,
    closeAll: () => {
      for (const s of sockets) s.destroy();
    },
  };
}
