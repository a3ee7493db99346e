import type { Logger } from '../util/log.js';
import type { Path } from '../dtab/path.js';
import type { DnsResolverOptions } from './dns-resolver.js';
import { Backoff } from '../util/backoff.js';
import { LiveName, namesReadiness, type NameSource } from './live-name.js';
import type { Namer, NamerReadiness } from './namer.js';
import type { Activity } from '../util/activity.js';
import type { Name } from '../dtab/name.js';
import type { NameTree } from '../dtab/nametree.js';
import { DnsResolver } from './dns-resolver.js';

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
  /** Called after each resolution with its outcome (metrics). */
  onResult?: (kind: 'ok' | 'nxdomain' | 'error') => void;
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
export function refreshLoop(options: DnsRefreshOptions, round: (r: RefreshRound) => Promise<number | undefined>): () => void {
  const refreshMs = Math.max(MIN_REFRESH_MS, (options.refreshIntervalSeconds ?? 5) * 1000);
  let timer: NodeJS.Timeout | undefined;
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
    timer = setTimeout(run, next);
    timer.unref();
  };
  void run();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}

/**
 * A DNS namer's names by key (`host/port`, an SRV name): one LiveName each, kept resolving an idle TTL
 * after the last user leaves, and the namer's state, readiness and close over all of them. Names
 * come from requests (`l5d-dtab` can name any host), so there are at most `maxNames`.
 */
export class DnsNames {
  private readonly names = new Map<string, LiveName>();

  constructor(
    private readonly idleTtlMs = 30_000,
    private readonly maxNames = 1000,
    private readonly onFull: () => void = () => {},
  ) {}

  get(key: string, id: Path, source: NameSource): LiveName {
    let name = this.names.get(key);
    if (!name) {
      if (this.names.size >= this.maxNames) this.onFull();
      if (this.names.size >= this.maxNames && !this.dropIdle()) {
        // Every name is in use: this one answers a failure (not cached) instead of growing the table.
        const refused = new LiveName(id, (sink) => {
          sink.fail(`too many DNS names in use (${this.maxNames}): not resolving ${key}`);
          return () => {};
        });
        return refused;
      }
      const created: LiveName = new LiveName(id, source, this.idleTtlMs, () => {
        if (this.names.get(key) === created) this.names.delete(key);
      });
      this.names.set(key, (name = created));
    }
    return name;
  }

  /** Stop the oldest name nobody observes (it was only kept warm for its idle TTL). */
  private dropIdle(): boolean {
    for (const [key, name] of this.names) {
      if (!name.idle) continue;
      this.names.delete(key);
      name.close();
      return true;
    }
    return false;
  }

  ready(label: string): NamerReadiness {
    return namesReadiness(label, this.names);
  }

  state(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [key, name] of this.names) out[key] = { state: name.state, addr: name.addr.sample, lastError: name.lastError };
    return out;
  }

  close(): void {
    for (const name of this.names.values()) name.close();
    this.names.clear();
  }
}

/** What `io.l5d.dns` and `io.l5d.dnssrv` share: the resolver, the names, and state/readiness/close over them. */
export abstract class DnsNamerBase implements Namer {
  protected readonly names: DnsNames;
  protected readonly resolver: DnsResolver;

  constructor(
    protected readonly prefix: Path,
    protected readonly options: DnsRefreshOptions = {},
  ) {
    this.resolver = new DnsResolver(options);
    this.names = new DnsNames(options.idleTtlMs, options.maxNames, options.onFull);
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
