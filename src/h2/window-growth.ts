import { ShareBudget, type Share } from '../util/share-budget.js';

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
 * grpc-go starts streams at 64 KiB and grows them by BDP estimation for the same reason. `held`
 * is the window granted past the initial one; `refused` counts a stream that flowed and could not
 * grow (once per half window it passed on).
 */
export class WindowGrowth extends ShareBudget<'windowGrowth'> {
  constructor(
    limit: number,
    /** The most window one stream grows to. */
    readonly maxWindow: number,
    /**
     * The most one share (a client address: its calls' streams) may hold: a client that takes the
     * first megabyte of many answers and then reads no more keeps its growth until its calls end,
     * and must not leave every other client's streams at their first window meanwhile.
     */
    shareLimit: number,
  ) {
    super('windowGrowth', limit, shareLimit);
  }

  /** Doubles a `window` (up to maxWindow) from the budget: the bytes it grows by (maybe 0). */
  double(window: number, share: GrowthShare | null): number {
    return window < this.maxWindow ? this.take(Math.min(window, this.maxWindow - window), share) : 0;
  }
}

/** Who a stream's growth is counted against besides the group (the router: its client's address). */
export type GrowthShare = Share<'windowGrowth'>;
