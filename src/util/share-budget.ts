/**
 * Bytes a process lends from a budget, with a share per client: one client (a pod, on a per-node
 * router) must not spend what every other client's calls share. The share's count is a field of
 * the client's own object (`field` of a ClientUsage, src/util/holds-per-client.ts), so it lives and
 * goes with the client and needs no table of its own. A null share counts against the budget only.
 */
export class ShareBudget<K extends string> {
  /** Bytes lent now, over every share. */
  held = 0;
  /** Times a take got nothing, or a hold went past a limit: the budget, or its share, was spent. */
  refused = 0;
  /** Of them, the times the budget had room and the share was what was spent. */
  shareRefused = 0;

  constructor(
    /** The field of a share that counts what it holds of this budget. */
    private readonly field: K,
    public limit: number,
    /** The most one share may hold. */
    public shareLimit: number,
  ) {}

  /** New limits; bytes already lent stay until they are given back. */
  resize(limit: number, shareLimit: number): void {
    this.limit = limit;
    this.shareLimit = shareLimit;
  }

  /** Up to `wanted` more bytes for `share`: what the budget and the share have left (maybe 0). */
  take(wanted: number, share: Share<K> | null): number {
    const room = this.limit - this.held;
    const n = share === null ? Math.min(wanted, room) : Math.min(wanted, room, this.shareLimit - share[this.field]);
    if (n <= 0) {
      this.refuse(room > 0);
      return 0;
    }
    this.held += n;
    if (share !== null) share[this.field] += n;
    return n;
  }

  /** All of `n` more bytes for `share`, or none (false) when the budget or the share has less left. */
  takeAll(n: number, share: Share<K> | null): boolean {
    const fits = this.held + n <= this.limit;
    if (!fits || (share !== null && share[this.field] + n > this.shareLimit)) {
      this.refuse(fits);
      return false;
    }
    this.held += n;
    if (share !== null) share[this.field] += n;
    return true;
  }

  /**
   * `n` more bytes for `share` that are held already, so cannot be refused (bytes queued to send):
   * false while that leaves the budget or the share past its limit, and its holder should take no
   * more. Going past counts as one refusal.
   */
  hold(n: number, share: Share<K>): boolean {
    const before = share[this.field];
    const within = before <= this.shareLimit && this.held <= this.limit;
    this.held += n;
    share[this.field] = before + n;
    if (share[this.field] <= this.shareLimit && this.held <= this.limit) return true;
    if (within) this.refuse(this.held <= this.limit);
    return false;
  }

  /** The budget, or `share`'s part of it, is past its limit. */
  spentFor(share: Share<K>): boolean {
    return this.held > this.limit || share[this.field] > this.shareLimit;
  }

  private refuse(byShare: boolean): void {
    this.refused++;
    if (byShare) this.shareRefused++;
  }

  /** `share` gives back `n` bytes it had taken. */
  give(n: number, share: Share<K> | null): void {
    this.held -= n;
    if (share !== null && (share[this.field] -= n) === 0) (share as Settles).settled?.();
  }
}

/** Who bytes of a ShareBudget counting `K` are lent to: an object with that count. */
export type Share<K extends string> = Record<K, number>;

/** A share may want to hear when a count of its comes back to 0: its table may then let it go (ClientUsage). */
interface Settles {
  settled?: (() => void) | undefined;
}
