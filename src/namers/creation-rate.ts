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
 * Kubernetes watches: 20 new ones a second after 100 at once. A node router's few hundred Services
 * are watched within seconds of its start; names clients make up cost the API server at most 40
 * LISTs a second (client-go's 5 requests a second would take a minute over 300 Services).
 */
export const WATCH_RATE: CreationRateSettings = Object.freeze({ perSecond: 20, burst: 100 });

/** DNS names: 50 new ones a second after 200 at once (each costs an A and an AAAA query at once, then one per refresh). */
export const DNS_NAME_RATE: CreationRateSettings = Object.freeze({ perSecond: 50, burst: 200 });

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

  /** Whether one more may start now; it takes its token if so. */
  take(): boolean {
    return this.bucket?.take(this.clock.now()) ?? true;
  }
}
