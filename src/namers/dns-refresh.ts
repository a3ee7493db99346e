import type { Logger } from '../util/log.js';
import type { Path } from '../dtab/path.js';
import type { DnsResolverOptions } from './dns-resolver.js';
import { Backoff } from '../util/backoff.js';
import type { LiveName } from './live-name.js';
import { NameTable } from './name-table.js';
import { realClock, type Clock } from '../util/clock.js';
import type { Namer, NamerReadiness } from './namer.js';
import type { Activity } from '../util/activity.js';
import type { Name } from '../dtab/name.js';
import type { NameTree } from '../dtab/nametree.js';
import { DnsResolver } from './dns-resolver.js';
import { CreationRate, DNS_NAME_RATE, type CreationRateSettings } from './creation-rate.js';
import { namerKey } from './kind.js';

export interface DnsRefreshOptions extends DnsResolverOptions {
  /** Upper bound on re-resolution (records' TTLs are honoured below it). Default 5. */
  refreshIntervalSeconds?: number;
  log?: Logger;
  /** Keep resolving this long after the last user leaves, so re-binding finds an answer. Default 30 s (5 s for NXDOMAIN). */
  idleTtlMs?: number;
  /** Most names resolved at once; past it, idle ones are dropped first, then new names fail. Default 1000. */
  maxNames?: number;
  /** Called each time a new name finds the table full (metrics). */
  onFull?: () => void;
  /** How fast new names may start resolving; a name over it stays pending until it may. Default DNS_NAME_RATE. */
  rate?: CreationRateSettings;
  /** Called each time a new name is held back by `rate` (metrics). */
  onRate?: () => void;
  /** The names table's and the refresh loop's time (tests). */
  clock?: Clock;
  /** Called after each resolution with its outcome (metrics). */
  onResult?: (kind: 'ok' | 'nxdomain' | 'error') => void;
  /** Its config entry's key (`namers[0]`), under which refusals name the limit that refused. */
  configKey?: string;
}

/** Shortest re-resolution, whatever the TTL says (a TTL of 0 must not become a query storm). */
export const MIN_REFRESH_MS = 500;

/** What one resolution round sees: the refresh cap, the error backoff, and whether the loop was stopped meanwhile. */
export interface RefreshRound {
  readonly refreshMs: number;
  readonly backoff: Backoff;
  stopped(): boolean;
  /**
   * A resolver error: keep the last good answer (never flap to empty because DNS hiccuped), note the
   * error, and retry after the backoff. Returns the delay.
   */
  keepLastGood(sink: LiveName, message: string, fields: Record<string, unknown>): number;
}

/**
 * The DNS namers' refresh loop: run `round` now and again after the delay it returns (its TTL-based
 * refresh, capped at `refreshIntervalSeconds`, or the error backoff), until the returned stop function
 * is called. A round returns undefined when it saw `stopped()` after an await.
 */
export function refreshLoop(options: DnsRefreshOptions & { refreshMs?: number }, round: (r: RefreshRound) => Promise<number | undefined>): () => void {
  const refreshMs = options.refreshMs ?? Math.max(MIN_REFRESH_MS, (options.refreshIntervalSeconds ?? 5) * 1000);
  const clock = options.clock ?? realClock;
  let cancel: (() => void) | undefined;
  let stopped = false;
  const r: RefreshRound = {
    refreshMs,
    backoff: new Backoff(100, refreshMs),
    stopped: () => stopped,
    keepLastGood(sink, message, fields) {
      sink.lastError = message;
      options.log?.warn('DNS resolution failed; keeping the last answer', { ...fields, error: message });
      return this.backoff.next();
    },
  };
  const run = async () => {
    const next = await round(r);
    if (stopped || next === undefined) return;
    cancel = clock.after(next, run);
  };
  void run();
  return () => {
    stopped = true;
    cancel?.();
  };
}

/** The DNS names table (io.l5d.dns, io.l5d.dnssrv, /$/inet): idle TTL 30 s, at most `maxNames` (1000), new ones at `rate`. */
export function dnsNameTable(options: DnsRefreshOptions): NameTable {
  const maxNames = options.maxNames ?? 1000;
  return new NameTable({
    idleTtlMs: options.idleTtlMs ?? 30_000,
    maxNames,
    onFull: options.onFull,
    refusal: (key) => `too many DNS names in use (${namerKey(options.configKey, 'maxNames')} ${maxNames}): not resolving ${key}`,
    rate: new CreationRate(options.rate ?? DNS_NAME_RATE, options.clock ?? realClock),
    onRate: options.onRate,
    rateRefusal: (key) => `new DNS names are over ${namerKey(options.configKey, 'namesPerSecond')}: not resolving ${key} yet`,
    clock: options.clock,
  });
}

/** What `io.l5d.dns` and `io.l5d.dnssrv` share: the resolver, the names, and state/readiness/close over them. */
export abstract class DnsNamerBase implements Namer {
  protected readonly names: NameTable;
  protected readonly resolver: DnsResolver;

  constructor(
    protected readonly prefix: Path,
    protected readonly options: DnsRefreshOptions = {},
  ) {
    this.resolver = new DnsResolver(options);
    this.names = dnsNameTable(options);
  }

  abstract lookup(path: Path): Activity<NameTree<Name>>;

  ready(): NamerReadiness {
    return this.names.ready(this.prefix.show());
  }

  state(): unknown {
    return this.names.state();
  }

  close(): void {
    this.names.close();
    this.resolver.cancel();
  }
}
