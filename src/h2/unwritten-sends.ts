import type { ShareBudget } from '../util/share-budget.js';
import type { StreamShares } from './stream.js';

/**
 * DATA a connection's streams moved into its socket that the socket has not yet written, by their
 * shares: each client's send share (H2ConnectionOptions.sendShares) counts them until then, as it
 * counted them queued. A socket's bytes are one stream of bytes, so they all go back together: when
 * it has written what it held ('drain'), or holds no more than its high-water mark (then 'drain'
 * may never come, and the group's budget does not count them either), or closes.
 *
 * One entry per client, not per frame: an endpoint connection carries many pods' streams, and one
 * sending tiny frames between the others' must not grow this by a slot a frame. The latest client's
 * bytes are summed beside the map: between two releases a connection mostly sends for one client,
 * and a Map update per DATA frame was the hot path's largest lookup.
 */
export class UnwrittenSends {
  private readonly bytes = new Map<StreamShares, number>();
  private last: StreamShares | null = null;
  private lastBytes = 0;

  constructor(private readonly shares: ShareBudget<'queuedRequestBytes'>) {}

  /** `n` bytes of `client`'s (held in its share) went into the socket's frames. */
  add(client: StreamShares, n: number): void {
    if (client !== this.last) {
      if (this.last !== null) this.bytes.set(this.last, (this.bytes.get(this.last) ?? 0) + this.lastBytes);
      this.last = client;
      this.lastBytes = 0;
    }
    this.lastBytes += n;
  }

  /** The socket wrote them (or will not say when): their clients' shares get them back. */
  release(): void {
    if (this.last === null) return;
    this.shares.give(this.lastBytes, this.last);
    this.last = null;
    this.lastBytes = 0;
    if (this.bytes.size === 0) return;
    for (const [client, n] of this.bytes) this.shares.give(n, client);
    this.bytes.clear();
  }
}
