import { TokenBucket } from '../util/token-bucket.js';
import type { Clock } from '../util/clock.js';

/** How fast a namer may start discovering new names: so many a second, after a first burst. */
export interface CreationRateSettings {
  /** New discoveries a second; 0: no limit. */
  perSecond: number;
  /** How many may start at once (a router's start, a new dtab). */
  burst: number;
}

/**
 * Kubernetes watches: 20 new ones a second after 1,000 at once. The burst is maxWatches' default: a
 * router's start, or a control plane's replica taking over a cluster's clients, watches every
 * Service it can hold at once, and its readiness waits for them all (names held by the rate are not
 * in the table it reads). The rate is for churn: names clients make up and drop cost the API server
 * at most 40 LISTs a second once the burst is spent.
 */
export const WATCH_RATE: CreationRateSettings = Object.freeze({ perSecond: 20, burst: 1000 });

/** DNS names: 50 new ones a second after 1,000 (maxNames' default) at once; each costs an A and an AAAA query at once, then one per refresh. */
export const DNS_NAME_RATE: CreationRateSettings = Object.freeze({ perSecond: 50, burst: 1000 });

/**
 * How fast a namer starts new discovery (a Kubernetes watch pair, a DNS name's lookups). Its tables
 * bound how many run at once, not how many start: names clients make up and drop seconds later would
 * otherwise start lists, watches and lookups as fast as clients name them.
 */
export class CreationRate {
  private readonly bucket: TokenBucket | undefined;

  constructor(
    settings: CreationRateSettings,
    private readonly clock: Clock,
  ) {
    if (settings.perSecond > 0) this.bucket = new TokenBucket(Math.max(1, settings.burst), settings.perSecond, clock.now());
  }

  /**
   * Starts one more if the rate allows (OVER_RATE if not): `start()` runs on a token, which comes
   * back when it starts nothing (undefined: its table was full). A flood of names a full table
   * refuses must not spend the rate that names admitted once there is room wait on.
   */
  admit<T>(start: () => T | undefined): T | undefined | typeof OVER_RATE {
    if (this.bucket !== undefined && !this.bucket.take(this.clock.now())) return OVER_RATE;
    const started = start();
    if (started === undefined) this.bucket?.giveBack();
    return started;
  }
}

/** CreationRate.admit's answer when no token is left. */
export const OVER_RATE: unique symbol = Symbol('over the creation rate');
