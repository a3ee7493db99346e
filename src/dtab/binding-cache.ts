import { PENDING, type Activity, type ActivityState } from '../util/activity.js';
import { Var, type Closable } from '../util/var.js';
import type { Dtab } from './dtab.js';
import { sameBindingState, type NameInterpreter } from './interpreter.js';
import type { BoundName } from './name.js';
import type { NameTree } from './nametree.js';
import type { Path } from './path.js';

export interface BindingCacheOptions {
  /** Most (name, local dtab) bindings kept; the least recently used goes first. Default 1000. */
  maxEntries?: number;
  /** A binding nobody asked for in this long is released with its namer watches. Default 10 minutes. */
  idleTtlMs?: number;
  /**
   * The idle TTL of a transient binding: one made under a request-local dtab (`l5d-dtab`), or one
   * whose name does not exist or failed to bind. Clients choose those names freely, so they are let
   * go within seconds of their last use. Default 10 s.
   */
  transientIdleTtlMs?: number;
  /** Called when a binding is evicted because the cache is full (the limit tripped). */
  onFull?: () => void;
}

/** A cached binding as the admin reads it: without touching its idle clock. */
export interface CachedBinding {
  readonly path: Path;
  readonly local: Dtab;
  /** The binding's current state (a Var read with `sample`). */
  readonly state: { readonly sample: State };
}

type State = ActivityState<NameTree<BoundName>>;

/** Sweeps per transient TTL: an entry's idle time is measured in sweeps. */
const SWEEPS_PER_TTL = 4;

/**
 * Bound trees per (logical name, request-local dtab), the way Linkerd's `DstBindingFactory`
 * caches by path and local dtab (the base dtab is not part of the key).
 *
 * Each entry binds `baseDtab.sample ++ local` and keeps that binding observed, so its namer
 * watches stay open and its Activity is always current; when `baseDtab` changes (a dtab file
 * reload) it binds again and switches over once, so a request sees the old or the new binding,
 * never a mix. A warm `get` is two map lookups on the memoized `show()` strings of its arguments.
 */
export class BindingCache {
  private readonly byLocal = new Map<string, Map<string, Entry>>();
  /** Every entry, oldest first: the eviction clock's ring. */
  private readonly order = new Set<Entry>();
  private tick = 0;
  private readonly maxEntries: number;
  /** Idle sweeps after which an entry goes: [lasting, transient]. */
  private readonly idleSweeps: readonly [number, number];
  private readonly onFull: () => void;
  private readonly sweeper: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly interpreter: NameInterpreter,
    private readonly baseDtab: Var<Dtab>,
    options: BindingCacheOptions = {},
  ) {
    this.maxEntries = Math.max(1, options.maxEntries ?? 1000);
    const ttl = Math.max(1, options.idleTtlMs ?? 600_000);
    const transientTtl = Math.max(1, Math.min(ttl, options.transientIdleTtlMs ?? 10_000));
    const period = transientTtl / SWEEPS_PER_TTL;
    this.idleSweeps = [Math.ceil(ttl / period), SWEEPS_PER_TTL];
    this.onFull = options.onFull ?? (() => {});
    this.sweeper = setInterval(() => this.sweep(), period);
    this.sweeper.unref();
  }

  /** The live binding of `path` under `baseDtab ++ local`. */
  get(path: Path, local: Dtab): Activity<NameTree<BoundName>> {
    const entry = this.byLocal.get(local.show())?.get(path.show());
    if (entry !== undefined) {
      entry.tick = this.tick;
      entry.used = true;
      return entry.state;
    }
    return this.miss(path, local);
  }

  /** How many bindings are held. */
  get size(): number {
    return this.order.size;
  }

  /** Every cached binding, for the admin: reading does not keep anything alive. */
  *peek(): IterableIterator<CachedBinding> {
    yield* this.order;
  }

  /** Release every binding and its namer watches. */
  close(): void {
    this.closed = true;
    clearInterval(this.sweeper);
    for (const entry of this.order) entry.close();
    this.byLocal.clear();
    this.order.clear();
  }

  private miss(path: Path, local: Dtab): Activity<NameTree<BoundName>> {
    if (this.closed) throw new Error('BindingCache is closed');
    if (this.order.size >= this.maxEntries) {
      this.onFull();
      this.evictOne();
    }
    const entry = new Entry(this.interpreter, this.baseDtab, path, local, this.tick);
    let inner = this.byLocal.get(entry.localKey);
    if (inner === undefined) this.byLocal.set(entry.localKey, (inner = new Map()));
    inner.set(entry.pathKey, entry);
    this.order.add(entry);
    return entry.state;
  }

  private sweep(): void {
    this.tick++;
    for (const entry of this.order) {
      // An entry someone observes directly (a router holding it) is in use whether or not it is asked for.
      if (this.tick - entry.tick > this.idleSweeps[entry.transient ? 1 : 0] && !entry.state.observed) this.remove(entry);
    }
  }

  /**
   * Make room for one entry, the CLOCK way (amortized O(1), nothing done on a warm `get` but setting
   * a bit): going round from the oldest, an entry asked for since the hand last passed, or observed,
   * gets a second chance at the back; the first one that was not goes. If all are in use, the
   * oldest goes anyway: the bound holds.
   */
  private evictOne(): void {
    let left = this.order.size;
    for (const entry of this.order) {
      if (left-- === 0) break;
      if (!entry.used && !entry.state.observed) {
        this.remove(entry);
        return;
      }
      entry.used = false;
      this.order.delete(entry);
      this.order.add(entry);
    }
    const oldest = this.order.values().next();
    if (!oldest.done) this.remove(oldest.value);
  }

  private remove(entry: Entry): void {
    const inner = this.byLocal.get(entry.localKey);
    inner?.delete(entry.pathKey);
    if (inner?.size === 0) this.byLocal.delete(entry.localKey);
    this.order.delete(entry);
    entry.close();
  }
}

/** One cached binding: follows the base dtab, keeps the current binding observed, forwards its states. */
class Entry implements CachedBinding {
  readonly state = new Var<State>(PENDING);
  readonly localKey: string;
  readonly pathKey: string;
  /** Asked for since the eviction clock last passed. */
  used = true;
  private binding: Closable | undefined;
  private readonly base: Closable;

  constructor(
    interpreter: NameInterpreter,
    baseDtab: Var<Dtab>,
    readonly path: Path,
    readonly local: Dtab,
    public tick: number,
  ) {
    this.localKey = local.show();
    this.pathKey = path.show();
    this.base = baseDtab.observe((base) => {
      // Observe the new binding before letting go of the old one, so namer watches both use stay open.
      const previous = this.binding;
      this.binding = interpreter.bind(base.concat(local), path).observe((s) => this.forward(s));
      previous?.close();
    });
  }

  private forward(next: State): void {
    if (!sameBindingState(this.state.sample, next)) this.state.set(next);
  }

  /** Made by a request-local dtab, or naming nothing that exists: let go soon after its last use. */
  get transient(): boolean {
    if (!this.local.isEmpty) return true;
    const s = this.state.sample;
    return s.status === 'failed' || (s.status === 'ok' && (s.value.kind === 'neg' || s.value.kind === 'fail'));
  }

  close(): void {
    this.base.close();
    this.binding?.close();
    this.binding = undefined;
  }
}
