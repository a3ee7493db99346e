/** A connection that a ReadBudget may stop reading; told when the group is back under its limit. */
export interface ReadBudgetMember {
  budgetFreed(): void;
}

/** Who a member's bytes are counted against besides the group (a server: its client's address, over its connections). */
export interface ReadBudgetClient {
  bufferedBytes: number;
}

/**
 * What a group of connections holds for its peers, bounded over the group: DATA read from them
 * and not yet passed on, and bytes their sockets have not yet written to them.
 *
 * Each connection's window (and its socket bound) bounds what one peer makes us hold (RFC 9113
 * §6.9), not what all of them may together: a node's pods, each sending to an endpoint that reads
 * nothing, or not reading their answers, would hold that times their connections. Past the limit,
 * a connection holding more than `share` is not read (and its socket takes no more than the share)
 * until it holds no more than that, or the group is back under the limit; its peer's frames wait
 * in the kernel, as its own TCP window says. Connections whose bytes flow hold next to nothing and
 * are still read, so a peer whose bytes never drain stops only itself, not every pod on the node.
 * The group then holds at most the limit, plus per connection the share and one socket read (the
 * read that crossed it is already in memory) or one tick's frames.
 *
 * The same holds for each client past `clientLimit`, over its own connections: one pod's 64
 * connections of 1 MiB would otherwise spend the whole limit alone, and every other pod's
 * connections would then be read a share at a time. A client then holds at most clientLimit plus
 * the share and a read per connection, so several are needed to spend the limit.
 *
 * The share is fixed, not the limit over the connections holding some: shares that shrink as
 * holders arrive let the first ones keep their larger shares, and the sum grows as log(holders).
 */
export class ReadBudget {
  /** Bytes held over the group. */
  held = 0;
  private readonly waiting = new Set<ReadBudgetMember>();
  /** The members of `waiting` with a client, by client: told when their client is back under clientLimit. */
  private readonly waitingByClient = new Map<ReadBudgetClient, Set<ReadBudgetMember>>();

  /** Told each time the group goes past its limit (it was at or under it). */
  onSpent: (() => void) | undefined;
  /** Times the group went past its limit (its trips, for metrics). */
  timesSpent = 0;

  constructor(
    private limitBytes: number,
    /**
     * What a connection may hold and still be read once the limit is passed: one frame of the
     * RFC's default size. A connection whose bytes flow holds less between reads; a larger share
     * would only add to what each stopped connection holds past the limit.
     */
    readonly share = 16 * 1024,
    /** What one client may hold over its connections before those holding more than `share` stop. */
    private clientLimitBytes = limitBytes,
  ) {}

  get limit(): number {
    return this.limitBytes;
  }

  get clientLimit(): number {
    return this.clientLimitBytes;
  }

  /** New limits (a process-wide budget, sized at start by `configureEndpointWindows`): the client part follows unless given. */
  resize(limit: number, clientLimit = limit): void {
    this.limitBytes = limit;
    this.clientLimitBytes = clientLimit;
  }

  /** The group's members hold `n` bytes more (n < 0: one passed some on), `n` of them for `client`. */
  change(n: number, client: ReadBudgetClient | null = null): void {
    const before = this.held;
    this.held = before + n;
    const clientBefore = client === null ? 0 : client.bufferedBytes;
    if (client !== null) client.bufferedBytes = clientBefore + n;
    if (before <= this.limit && this.held > this.limit) {
      this.timesSpent++;
      this.onSpent?.();
    }
    if (before > this.limit && this.held <= this.limit && this.waiting.size > 0) {
      for (const m of [...this.waiting]) m.budgetFreed();
    } else if (client !== null && clientBefore > this.clientLimit && client.bufferedBytes <= this.clientLimit) {
      const waiting = this.waitingByClient.get(client);
      if (waiting !== undefined) for (const m of [...waiting]) m.budgetFreed();
    }
  }

  /** The group holds more than its limit. */
  get spent(): boolean {
    return this.held > this.limit;
  }

  /** The group holds more than its limit, or `client` more than clientLimit. */
  spentFor(client: ReadBudgetClient | null): boolean {
    return this.held > this.limit || (client !== null && client.bufferedBytes > this.clientLimit);
  }

  /** A member of `client` holding `held` bytes must stop reading. */
  exceeded(held: number, client: ReadBudgetClient | null = null): boolean {
    return held > this.share && this.spentFor(client);
  }

  /** The member (of `client`) stopped reading, until budgetFreed() (or leave()). */
  wait(m: ReadBudgetMember, client: ReadBudgetClient | null = null): void {
    this.waiting.add(m);
    if (client === null) return;
    const waiting = this.waitingByClient.get(client);
    if (waiting === undefined) this.waitingByClient.set(client, new Set([m]));
    else waiting.add(m);
  }

  leave(m: ReadBudgetMember, client: ReadBudgetClient | null = null): void {
    if (!this.waiting.delete(m) || client === null) return;
    const waiting = this.waitingByClient.get(client);
    if (waiting !== undefined && waiting.delete(m) && waiting.size === 0) this.waitingByClient.delete(client);
  }
}
