import type { Socket } from 'node:net';

/** What one client address holds over its open connections. */
export class ClientUsage {
  connections = 0;
  /** Its calls in flight (the data plane's servers count them). */
  streams = 0;
  /** Request header bytes of its calls in flight (the data plane's servers count them). */
  headerBytes = 0;
}

/**
 * Open connections per client address, bounded: one client (a pod, on a per-node router) opening
 * connections without end must not take the slots every other client shares. The table holds a
 * key only for an address with a connection open, so it is bounded by the open connections; what
 * else a server bounds per client hangs on the same key (`usageOf`).
 */
export class ConnectionsPerClient {
  private readonly open = new Map<string, ClientUsage>();

  constructor(private readonly limit: number) {}

  /** Counts `socket` against its client address until it closes; false, counting nothing, past the limit. */
  admit(socket: Socket): boolean {
    const address = socket.remoteAddress ?? '';
    let usage = this.open.get(address);
    if (usage === undefined) this.open.set(address, usage = new ClientUsage());
    else if (usage.connections >= this.limit) return false;
    usage.connections++;
    socket.once('close', () => {
      if (--usage.connections === 0) this.open.delete(address);
    });
    return true;
  }

  /** The usage of an address that has a connection open (admitted, not yet closed). */
  usageOf(address: string | undefined): ClientUsage | undefined {
    return this.open.get(address ?? '');
  }
}
