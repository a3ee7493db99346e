import type { ShareBudget } from '../util/share-budget.js';
import type { StreamClient } from './stream.js';

/**
 * DATA a connection's streams moved into its socket that the socket has not yet written, by their
 * clients: each client's send share (H2ConnectionOptions.sendShares) counts them until then, as it
 * counted them queued. A socket's bytes are one stream of bytes, so they all go back together: when
 * it has written what it held ('drain'), or holds no more than its high-water mark (then 'drain'
 * may never come, and the group's budget does not count them either), or closes.
 *
 * Runs of one client's bytes are one entry: a connection usually sends for few clients between two
 * releases, and nothing is allocated per frame once the arrays have grown.
 */
export class UnwrittenSends {
  private readonly clients: StreamClient[] = [];
  private readonly bytes: number[] = [];

  constructor(private readonly shares: ShareBudget<'queuedRequestBytes'>) {}

  /** `n` bytes of `client`'s (held in its share) went into the socket's frames. */
  add(client: StreamClient, n: number): void {
    const last = this.clients.length - 1;
    if (last >= 0 && this.clients[last] === client) this.bytes[last]! += n;
    else {
      this.clients.push(client);
      this.bytes.push(n);
    }
  }

  /** The socket wrote them (or will not say when): their clients' shares get them back. */
  release(): void {
    const clients = this.clients;
    if (clients.length === 0) return;
    for (let i = 0; i < clients.length; i++) this.shares.give(this.bytes[i]!, clients[i]!);
    clients.length = 0;
    this.bytes.length = 0;
  }
}
