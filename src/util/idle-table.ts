import { realClock, type Clock } from './clock.js';

/**
 * How long a negative answer (Neg, NXDOMAIN, a Service that does not exist) is kept once nobody
 * uses it. Clients can name any number of things that do not exist (an `l5d-dtab` override, a
 * made-up service); such an entry gives a re-bind nothing worth keeping warm.
 */
export const NEGATIVE_IDLE_TTL_MS = 5000;

export interface IdleTableOptions<K, V> {
  /** How long an entry nobody uses is kept. 0: let go as soon as its last holder leaves. */
  idleTtlMs: number;
  /** The idle TTL of a transient entry (see `isTransient`), never longer than `idleTtlMs`. Default NEGATIVE_IDLE_TTL_MS. */
  transientIdleTtlMs?: number;
  /** Whether an entry is transient now (a negative answer, a client-chosen override); asked when it is idle. */
  isTransient?: (value: V) => boolean;
  /** In use by something other than acquire/release (e.g. streams in flight); such entries neither expire nor make room. */
  inUse?: (value: V) => boolean;
  /** Most entries. Default: no limit. */
  maxEntries?: number;
  /** Called each time a new key finds the table full, whether an idle entry then made room or not (the limit tripped). */
  onFull?: () => void;
  /** Let go of a value the table dropped (expired, evicted, deleted, or the table closed). */
  dispose: (value: V, key: K) => void;
  clock?: Clock;
}

/** Idle time is checked this many times per shortest TTL, so an entry goes within 1.25 TTLs. */
const SWEEPS_PER_TTL = 4;
/** How many idle entries an eviction compares (see evictOne). */
const EVICTION_WINDOW = 16;
/** How many entries an eviction looks at in all, in use or not, before it refuses (see evictOne). */
const EVICTION_SCAN = 16 * EVICTION_WINDOW;
/** With only zero TTLs, entries made but never acquired are still swept this often. */
const ZERO_TTL_SWEEP_MS = 1000;

/**
 * One keyed value and who holds it. Holders `acquire` and `release` it; `touch` marks a use that
 * holds nothing (a cache hit), and costs one assignment so it can sit on the hot path.
 */
export class TableEntry<K, V> {
  /** Set right after construction by the table (the value may need its entry to be made). */
  value!: V;
  /** Holders now. */
  refs = 0;
  /** Touched since the last sweep looked: counts as used at that sweep. */
  used = false;
  /** When it last stopped being used (clock ms). */
  idleSince: number;

  constructor(
    readonly key: K,
    private readonly table: IdleTable<K, V>,
  ) {
    this.idleSince = table.now();
  }

  acquire(): void {
    this.refs++;
  }

  release(): void {
    if (this.refs <= 0) return;
    this.refs--;
    if (this.refs === 0) this.table.released(this);
  }

  touch(): void {
    this.used = true;
  }
}

/**
 * The one owner of things that live while used and die when idle (linkerd2-proxy's `IdleCache`):
 * discovered names, watches, resolvers, bindings. An entry lives while it is held (or `inUse`);
 * once not, it expires after the idle TTL (the transient TTL for negative answers and other
 * client-chosen names). At `maxEntries`, a new key evicts the entry nearest to expiring among the
 * longest idle (see evictOne); when every entry it looks at is in use the table refuses (returns
 * undefined) rather than grow.
 *
 * Expiry is checked by one sweep timer per table (running only while the table has entries), so
 * holding and touching never touch a timer.
 */
export class IdleTable<K, V> {
  private readonly entries = new Map<K, TableEntry<K, V>>();
  private readonly idleTtlMs: number;
  private readonly transientTtlMs: number;
  private readonly maxEntries: number;
  private readonly clock: Clock;
  private readonly periodMs: number;
  private stopSweeping: (() => void) | undefined;
  private closed = false;

  constructor(private readonly options: IdleTableOptions<K, V>) {
    this.idleTtlMs = Math.max(0, options.idleTtlMs);
    this.transientTtlMs = Math.min(this.idleTtlMs, Math.max(0, options.transientIdleTtlMs ?? NEGATIVE_IDLE_TTL_MS));
    this.maxEntries = Math.max(1, options.maxEntries ?? Number.POSITIVE_INFINITY);
    this.clock = options.clock ?? realClock;
    // A table that has no transient entries (no isTransient) sweeps on its idle TTL alone.
    const ttls = options.isTransient ? [this.idleTtlMs, this.transientTtlMs] : [this.idleTtlMs];
    const shortest = Math.min(...ttls.filter((t) => t > 0));
    this.periodMs = Number.isFinite(shortest) ? Math.min(60_000, Math.max(1, shortest / SWEEPS_PER_TTL)) : ZERO_TTL_SWEEP_MS;
  }

  now(): number {
    return this.clock.now();
  }

  get size(): number {
    return this.entries.size;
  }

  /** The entry of `key` without marking a use (reads for the admin keep nothing alive). */
  peek(key: K): TableEntry<K, V> | undefined {
    return this.entries.get(key);
  }

  /**
   * The entry of `key`, made with `make` when missing; undefined when the table is full and every
   * entry is in use. Marks a use either way.
   */
  get(key: K, make: (entry: TableEntry<K, V>) => V): TableEntry<K, V> | undefined {
    return this.getOrMake(key, make, true);
  }

  /**
   * `get` for a key the table refused before and whose refusal was reported then: a full table is
   * not reported again, so `onFull` counts refused keys, not how often they ask.
   */
  getAgain(key: K, make: (entry: TableEntry<K, V>) => V): TableEntry<K, V> | undefined {
    return this.getOrMake(key, make, false);
  }

  private getOrMake(key: K, make: (entry: TableEntry<K, V>) => V, reportFull: boolean): TableEntry<K, V> | undefined {
    const found = this.entries.get(key);
    if (found !== undefined) {
      found.used = true;
      return found;
    }
    if (this.closed) throw new Error('the table is closed');
    if (this.entries.size >= this.maxEntries) {
      if (reportFull) this.options.onFull?.();
      if (!this.evictOne()) return undefined;
    }
    const entry = new TableEntry<K, V>(key, this);
    entry.value = make(entry);
    this.entries.set(key, entry);
    this.stopSweeping ??= this.clock.every(this.periodMs, () => this.sweep());
    return entry;
  }

  /** Every entry, for state pages and readiness: reading marks no use. */
  values(): IterableIterator<TableEntry<K, V>> {
    return this.entries.values();
  }

  /** Drop `key` now, whoever holds it. */
  delete(key: K): void {
    const entry = this.entries.get(key);
    if (entry !== undefined) this.drop(entry);
  }

  /** Drop every entry. A closed table makes no new ones. */
  close(): void {
    this.closed = true;
    for (const entry of [...this.entries.values()]) this.drop(entry);
  }

  /** @internal The last holder left. */
  released(entry: TableEntry<K, V>): void {
    if (this.entries.get(entry.key) !== entry) {
      // Dropped from the table (closed, or expired and then used through an old reference): it
      // lived only for its holders, and nothing keeps it warm now.
      this.options.dispose(entry.value, entry.key);
      return;
    }
    entry.idleSince = this.clock.now();
    entry.used = false;
    if (this.ttlOf(entry) === 0 && !this.inUse(entry)) this.drop(entry);
  }

  private inUse(entry: TableEntry<K, V>): boolean {
    return entry.refs > 0 || (this.options.inUse?.(entry.value) ?? false);
  }

  private ttlOf(entry: TableEntry<K, V>): number {
    return this.options.isTransient?.(entry.value) ? this.transientTtlMs : this.idleTtlMs;
  }

  private sweep(): void {
    const now = this.clock.now();
    for (const entry of [...this.entries.values()]) {
      if (this.inUse(entry)) {
        // Idle time counts from when it stops being in use: a call longer than the TTL must not
        // find its entry expired (and its series gone) the moment it ends.
        entry.idleSince = now;
        continue;
      }
      if (entry.used) {
        entry.used = false;
        entry.idleSince = now;
        continue;
      }
      if (now - entry.idleSince >= this.ttlOf(entry)) this.drop(entry);
    }
  }

  /**
   * Make room: drop the entry not in use that would expire first, looking at no more than
   * EVICTION_WINDOW idle entries from the front (CLOCK-like, so a flood of new names costs O(1) per
   * eviction, not a scan of the table). Entries in use, or used since the sweep last looked, go to
   * the back (counted as used now): the front holds the longest idle. Of equals, the front one goes.
   * After EVICTION_SCAN entries in use it stops and refuses, so a table full of calls in flight costs
   * each refused key a bounded look, not a walk of the whole table; the next new key looks further on.
   * (Entries only used lose that mark as they go to the back, so they cost a look once per sweep.)
   */
  private evictOne(): boolean {
    const now = this.clock.now();
    let victim: TableEntry<K, V> | undefined;
    let soonest = Number.POSITIVE_INFINITY;
    let looked = 0;
    let walkedAll = true;
    const busy: TableEntry<K, V>[] = [];
    const touched: TableEntry<K, V>[] = [];
    for (const entry of this.entries.values()) {
      if (this.inUse(entry)) {
        if (busy.push(entry) === EVICTION_SCAN) { walkedAll = false; break; }
        continue;
      }
      if (entry.used) {
        touched.push(entry);
        continue;
      }
      const at = entry.idleSince + this.ttlOf(entry);
      if (at < soonest) {
        soonest = at;
        victim = entry;
      }
      if (++looked === EVICTION_WINDOW) { walkedAll = false; break; }
    }
    for (const entry of busy) this.toBack(entry, now);
    for (const entry of touched) {
      this.toBack(entry, now);
      // The whole table was walked and every entry not in use was used just now: the one with the shortest TTL goes.
      if (walkedAll && looked === 0 && now + this.ttlOf(entry) < soonest) {
        soonest = now + this.ttlOf(entry);
        victim = entry;
      }
    }
    if (victim === undefined) return false;
    this.drop(victim);
    return true;
  }

  /** Counted as used now, and moved behind the longest idle. */
  private toBack(entry: TableEntry<K, V>, now: number): void {
    entry.used = false;
    entry.idleSince = now;
    this.entries.delete(entry.key);
    this.entries.set(entry.key, entry);
  }

  private drop(entry: TableEntry<K, V>): void {
    if (this.entries.get(entry.key) !== entry) return;
    this.entries.delete(entry.key);
    if (this.entries.size === 0 && this.stopSweeping !== undefined) {
      this.stopSweeping();
      this.stopSweeping = undefined;
    }
    // A value used again through an old reference restarts its work, and `released` disposes it
    // again when its last holder leaves: dispose must be idempotent.
    this.options.dispose(entry.value, entry.key);
  }
}
