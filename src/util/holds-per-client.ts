import type { Server, Socket } from 'node:net';

/** What one client address holds: the holds a table counts for it, and what its server bounds besides. */
export class ClientUsage {
  /** Holds the table counts (connections, or a grpclb server's streams). */
  held = 0;
  /** Its calls in flight (the data plane's servers count them). */
  streams = 0;
  /** Request header bytes of its calls in flight (the data plane's servers count them). */
  headerBytes = 0;
  /** Its calls' endpoint stream windows grown past their first (a GrowthShare of src/h2/window-growth.ts). */
  windowGrowth = 0;
  /** Request bytes its calls keep for a transparent retry (a share of src/proxy/replay-budget.ts's budget). */
  replayBytes = 0;
  /** Request bytes its calls handed to endpoint connections that their sockets have not yet written (a share of src/proxy/upstream.ts's QUEUED_REQUESTS). */
  queuedRequestBytes = 0;
  /** Set by its table while it holds nothing but queuedRequestBytes: called as a count of its comes back to 0 (ShareBudget.give). */
  settled: (() => void) | undefined = undefined;
  /** The bound clients its calls on its server's router are on: calls in flight per bound id (at most bindingCache.clientsPerClient ids). */
  boundClients: Map<string, number> | undefined = undefined;
  /** What its connections hold against their server's read budget (a ReadBudgetClient of src/h2/read-budget.ts). */
  bufferedBytes = 0;
  /**
   * Its streams reset before they were answered, over all its connections (the rapid-reset limit
   * is per client address: a pod opening many connections must not multiply it). Made by its server
   * on its first connection (a WindowCounter of src/h2/limits.ts), and shared by its connections.
   */
  rapidResets: { readonly limit: number; readonly windowMs: number; hit(now: number): boolean } | undefined = undefined;
}

/**
 * Holds per client address, bounded: one client (a pod, on a per-node router) opening connections
 * or streams without end must not take the slots every other client shares. The table holds a key
 * only for an address holding something, so it is bounded by what is held; what else a server
 * bounds per client hangs on the same key (`usageOf`).
 */
export class HoldsPerClient {
  private readonly usage = new Map<string, ClientUsage>();

  constructor(private readonly limit: number) {}

  /** Counts one more hold of `address`: its usage, or undefined (counting nothing) past the limit. */
  acquire(address: string): ClientUsage | undefined {
    let usage = this.usage.get(address);
    if (usage === undefined) this.usage.set(address, usage = new ClientUsage());
    else if (usage.held >= this.limit) return undefined;
    usage.held++;
    return usage;
  }

  /**
   * One hold of `address` (acquired) ends. Its last hold gone, the address goes, unless its calls'
   * request bytes are still in endpoint sockets (which outlive its connections): its usage stays
   * until they are written, so a pod that reconnects finds them still counted against its share,
   * instead of a fresh share beside them.
   */
  release(address: string): void {
    const usage = this.usage.get(address);
    if (usage === undefined || --usage.held > 0) return;
    if (usage.queuedRequestBytes > 0) usage.settled = () => this.forget(address, usage);
    else this.usage.delete(address);
  }

  private forget(address: string, usage: ClientUsage): void {
    if (usage.held > 0 || usage.queuedRequestBytes > 0) return;
    usage.settled = undefined;
    if (this.usage.get(address) === usage) this.usage.delete(address);
  }

  /** The usage of an address holding something now. */
  usageOf(address: string | undefined): ClientUsage | undefined {
    return this.usage.get(address ?? '');
  }
}

/** Open connections per client address, bounded (HoldsPerClient): each counts until its socket closes. */
export class ConnectionsPerClient extends HoldsPerClient {
  /** Counts `socket` against its client address until it closes; false, counting nothing, past the limit. */
  admit(socket: Socket): boolean {
    const address = socket.remoteAddress ?? '';
    if (this.acquire(address) === undefined) return false;
    socket.once('close', () => this.release(address));
    return true;
  }
}

/**
 * Bounds the connections `server` takes, as every listener a pod can reach must be: at most
 * `maxConnections` open (past it the kernel's accept is followed by an immediate close, 'drop'), and
 * `maxConnectionsPerClient` from one client address (ConnectionsPerClient). The per-client check runs
 * before the 'connection' listeners the server has now (an HTTP parser, a TLS handshake, a grpc-js
 * injector), so they see only the connections admitted and a refused one costs nothing more.
 * `refused` hears of each refusal, by which bound.
 */
export function admitConnections(
  server: Server,
  limits: { maxConnections: number; maxConnectionsPerClient: number },
  refused: (bound: 'maxConnections' | 'maxConnectionsPerClient') => void,
): ConnectionsPerClient {
  server.maxConnections = limits.maxConnections;
  server.on('drop', () => refused('maxConnections'));
  const perClient = new ConnectionsPerClient(limits.maxConnectionsPerClient);
  const listeners = server.listeners('connection') as ((socket: Socket) => void)[];
  server.removeAllListeners('connection');
  server.on('connection', (socket: Socket) => {
    if (!perClient.admit(socket)) {
      refused('maxConnectionsPerClient');
      socket.destroy();
      return;
    }
    for (const listener of listeners) listener.call(server, socket);
  });
  return perClient;
}
