import type { Socket } from 'node:net';

/**
 * Open connections per client address, bounded: one client (a pod, on a per-node router) opening
 * connections without end must not take the slots every other client shares. The table holds a
 * key only for an address with a connection open, so it is bounded by the open connections.
 */
export class ConnectionsPerClient {
  private readonly open = new Map<string, number>();

  constructor(private readonly limit: number) {}

  /** Counts `socket` against its client address until it closes; false, counting nothing, past the limit. */
  admit(socket: Socket): boolean {
    const address = socket.remoteAddress ?? '';
    const n = this.open.get(address) ?? 0;
    if (n >= this.limit) return false;
    this.open.set(address, n + 1);
    socket.once('close', () => {
      const left = this.open.get(address)! - 1;
      if (left === 0) this.open.delete(address);
      else this.open.set(address, left);
    });
    return true;
  }
}
