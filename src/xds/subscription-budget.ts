/**
 * Subscriptions (one name of one type on one stream), counted per client address over all its
 * streams and over the whole process. Each costs the control plane about 1 KB whatever the name
 * (measured: 400,000 took 360 MB), and a client chooses how many it makes, so both counts are
 * bounded: one pod cannot take what the others share, and all of them together fit the memory limit.
 */
export class SubscriptionBudget {
  /** Per client address, only while it holds some: bounded by the clients with a stream open. */
  private readonly perClient = new Map<string, number>();
  private held = 0;

  constructor(private readonly limits: { readonly perClient: number; readonly total: number }) {}

  get size(): number {
    return this.held;
  }

  /** Count `n` more for `client`; the bound it would pass ('perClient' or 'total'), counting nothing, or undefined. */
  take(client: string, n: number): 'perClient' | 'total' | undefined {
    if (n === 0) return undefined;
    const mine = this.perClient.get(client) ?? 0;
    if (mine + n > this.limits.perClient) return 'perClient';
    if (this.held + n > this.limits.total) return 'total';
    this.perClient.set(client, mine + n);
    this.held += n;
    return undefined;
  }

  /** `n` taken by `client` end. */
  give(client: string, n: number): void {
    if (n === 0) return;
    const left = (this.perClient.get(client) ?? 0) - n;
    if (left > 0) this.perClient.set(client, left);
    else this.perClient.delete(client);
    this.held -= n;
  }
}
