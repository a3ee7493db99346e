/**
 * Request bytes the router keeps for a transparent retry after it has passed them on, over the
 * process, with a share per client.
 *
 * A call keeps up to 64 KiB of its request until an endpoint answers, so a refused stream can be
 * replayed on another endpoint. Passed on, those bytes have left every window and read budget, so
 * kept copies were bounded by nothing but the calls: a pod with 5,000 calls that each sent 64 KiB
 * to an endpoint that had not answered yet held 320 MB. Past the budget, or its client's share, a
 * call keeps nothing more for a replay: it is still served, but not retried on another endpoint.
 */
export class ReplayBudget {
  /** Bytes kept for replays over the process. */
  held = 0;
  /** Times a call could not keep its bytes for a replay (the budget or its client's share was spent). */
  refused = 0;
  /** Bytes kept per client, by the client's own object (the server's per-address usage). */
  private readonly perClient = new WeakMap<object, number>();

  constructor(
    public limit: number,
    public shareLimit: number,
  ) {}

  /** `n` more bytes kept for a call of `client`: false, taking nothing, when the budget or the share is spent. */
  take(n: number, client: object | null): boolean {
    const mine = client === null ? 0 : (this.perClient.get(client) ?? 0);
    if (this.held + n > this.limit || mine + n > this.shareLimit) {
      this.refused++;
      return false;
    }
    this.held += n;
    if (client !== null) this.perClient.set(client, mine + n);
    return true;
  }

  /** A call of `client` let go of `n` bytes it had taken. */
  give(n: number, client: object | null): void {
    this.held -= n;
    if (client !== null) this.perClient.set(client, (this.perClient.get(client) ?? n) - n);
  }
}

/** 32 MiB over the process, a quarter per client address (as the endpoint windows' budgets). */
export const REPLAY_BUDGET = new ReplayBudget(32 << 20, 8 << 20);
