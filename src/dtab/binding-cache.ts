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
}

type State = ActivityState<NameTree<BoundName>>;

/** Sweeps per idle TTL: an entry is evicted after this many sweeps without a `get`. */
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
  private count = 0;
  private tick = 0;
  private readonly maxEntries: number;
  private readonly sweeper: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly interpreter: NameInterpreter,
    private readonly baseDtab: Var<Dtab>,
    options: BindingCacheOptions = {},
  ) {
    this.maxEntries = Math.max(1, options.maxEntries ?? 1000);
    const ttl = options.idleTtlMs ?? 600_000;
    this.sweeper = setInterval(() => this.sweep(), Math.max(1, ttl / SWEEPS_PER_TTL));
    this.sweeper.unref();
  }

  /** The live binding of `path` under `baseDtab ++ local`. */
  get(path: Path, local: Dtab): Activity<NameTree<BoundName>> {
    const entry = this.byLocal.get(local.show())?.get(path.show());
    if (entry !== undefined) {
      entry.tick = this.tick;
      return entry.state;
    }
    return this.miss(path, local);
  }

  /** How many bindings are held. */
  get size(): number {
    return this.count;
  }

  /** Release every binding and its namer watches. */
  close(): void {
    this.closed = true;
    clearInterval(this.sweeper);
    for (const inner of this.byLocal.values()) for (const entry of inner.values()) entry.close();
    this.byLocal.clear();
    this.count = 0;
  }

  private miss(path: Path, local: Dtab): Activity<NameTree<BoundName>> {
    if (this.closed) throw new Error('BindingCache is closed');
    if (this.count >= this.maxEntries) this.evictLeastRecent();
    const localKey = local.show();
    let inner = this.byLocal.get(localKey);
    if (inner === undefined) this.byLocal.set(localKey, (inner = new Map()));
    const entry = new Entry(this.interpreter, this.baseDtab, path, local, this.tick);
    inner.set(path.show(), entry);
    this.count++;
    return entry.state;
  }

  private sweep(): void {
    this.tick++;
    for (const [localKey, inner] of this.byLocal) {
      for (const [pathKey, entry] of inner) {
        // An entry someone observes directly (a router holding it) is in use whether or not it is asked for.
        if (this.tick - entry.tick > SWEEPS_PER_TTL && !entry.state.observed) this.remove(localKey, inner, pathKey, entry);
      }
    }
  }

  private evictLeastRecent(): void {
    let victim: [string, Map<string, Entry>, string, Entry] | undefined;
    for (const [localKey, inner] of this.byLocal) {
      for (const [pathKey, entry] of inner) {
        const better =
          victim === undefined ||
          (victim[3].state.observed && !entry.state.observed) ||
          (victim[3].state.observed === entry.state.observed && entry.tick < victim[3].tick);
        if (better) victim = [localKey, inner, pathKey, entry];
      }
    }
    if (victim !== undefined) this.remove(...victim);
  }

  private remove(localKey: string, inner: Map<string, Entry>, pathKey: string, entry: Entry): void {
    inner.delete(pathKey);
    if (inner.size === 0) this.byLocal.delete(localKey);
    this.count--;
    entry.close();
  }
}

/** One cached binding: follows the base dtab, keeps the current binding observed, forwards its states. */
class Entry {
  readonly state = new Var<State>(PENDING);
  private binding: Closable | undefined;
  private readonly base: Closable;

  constructor(
    interpreter: NameInterpreter,
    baseDtab: Var<Dtab>,
    path: Path,
    local: Dtab,
    public tick: number,
  ) {
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

  close(): void {
    this.base.close();
    this.binding?.close();
    this.binding = undefined;
  }
}
