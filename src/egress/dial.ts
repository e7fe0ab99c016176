/**
 * Dialling a destination the address gate checked (I8): the byte tunnel connects to
 * one of the exact addresses `checkDestination` returned, in order, and never resolves
 * the name again. A dial that takes longer than its timeout fails with ETIMEDOUT.
 */
import { connect, type Socket } from 'node:net';

/** Try each checked address in order; rejects with the last socket error. */
export async function dialChecked(addrs: ReadonlyArray<{ address: string }>, port: number, timeoutMs: number): Promise<Socket> {
  let last: unknown = new Error('no address to dial');
  for (const a of addrs) {
    try {
      return await dialOne(a.address, port, timeoutMs);
    } catch (err) {
      last = err;
    }
  }
  throw last;
}

function dialOne(address: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    // An IP literal: net.connect does no lookup, so this is exactly the checked address.
    const s = connect({ host: address, port, allowHalfOpen: true, noDelay: true });
    s.setTimeout(timeoutMs, () => s.destroy(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' })));
    s.once('error', reject);
    s.once('connect', () => {
      s.setTimeout(0);
      s.removeListener('error', reject);
      resolve(s);
    });
  });
}
