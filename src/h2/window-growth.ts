/**
 * Receive windows past the initial one, granted from a budget a group of connections shares (the
 * router's connections to endpoints): streams' windows, as below, or the connections' own (one
 * budget of each; a connection takes its window once, with no share).
 *
 * A stream's window is what its peer may send that we must then hold: the router holds an
 * endpoint's answer until its client reads it. Granted up front to every stream (SETTINGS), a
 * large window is multiplied by the streams: 1,000 calls whose clients read nothing, to an
 * endpoint that answers at once and allows one stream per connection (so no connection window
 * binds them together), held 1,000 windows of 1 MiB. So each stream starts with a small window
 * and grows it, doubling, only as its answers are passed on (a client that reads), and only while
 * the group's budget lasts; a stream gives its growth back when it closes. The group then holds
 * at most the budget plus the small window per stream, and a stalled stream holds the small one.
 * grpc-go starts streams at 64 KiB and grows them by BDP estimation for the same reason.
 */
export class WindowGrowth {
  /** Window granted past the initial one, over the group's open streams. */
  held = 0;
  /** Times a stream that flowed could not grow (once per half window it passed on): the budget, or its share, was spent. */
  refused = 0;

  constructor(
    public limit: number,
    /** The most window one stream grows to. */
    readonly maxWindow: number,
    /**
     * The most one share (a client address: its calls' streams) may hold: a client that takes the
     * first megabyte of many answers and then reads no more keeps its growth until its calls end,
     * and must not leave every other client's streams at their first window meanwhile.
     */
    public shareLimit: number,
  ) {}

  /** New limits; growth already given stays until its streams give it back. */
  resize(limit: number, shareLimit: number): void {
    this.limit = limit;
    this.shareLimit = shareLimit;
  }

  /** Up to `wanted` more bytes of window for a stream of `share`: what the budget gives (maybe 0). */
  take(wanted: number, share: GrowthShare | null): number {
    let n = Math.min(wanted, this.limit - this.held);
    if (share !== null) n = Math.min(n, this.shareLimit - share.windowGrowth);
    if (n <= 0) {
      this.refused++;
      return 0;
    }
    this.held += n;
    if (share !== null) share.windowGrowth += n;
    return n;
  }

  /** Doubles a `window` (up to maxWindow) from the budget: the bytes it grows by (maybe 0). */
  double(window: number, share: GrowthShare | null): number {
    return window < this.maxWindow ? this.take(Math.min(window, this.maxWindow - window), share) : 0;
  }

  /** A stream of `share` closed holding `n` bytes of growth. */
  give(n: number, share: GrowthShare | null): void {
    this.held -= n;
    if (share !== null) share.windowGrowth -= n;
  }
}

/** Who a stream's growth is counted against besides the group (the router: its client's address). */
export interface GrowthShare {
  windowGrowth: number;
}
