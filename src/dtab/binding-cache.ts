import type { Activity, ActivityState } from '../util/activity.js';
import type { Clock } from '../util/clock.js';
import { IdleTable, type TableEntry } from '../util/idle-table.js';
import type { Closable, Var } from '../util/var.js';
import type { Dtab } from './dtab.js';
import type { NameInterpreter } from './interpreter.js';
import type { BoundName } from './name.js';
import type { NameTree } from './nametree.js';
import type { Path } from './path.js';

export interface BindingCacheOptions {
  /** Most (name, local dtab) bindings kept; the idlest not in use goes first. Default 1000. */
  maxEntries?: number;
  /** A binding nobody asked for in this long is released with its namer watches. Default 10 minutes. */
  idleTtlMs?: number;
  /**
   * The idle TTL of a transient binding: one made under a request-local dtab (`l5d-dtab`), or one
   * whose name does not exist or failed to bind. Clients choose those names freely, so they are let
   * go within seconds of their last use. Default 10 s.
   */
  transientIdleTtlMs?: number;
  /** Called when a new binding finds the cache full (the limit tripped). */
  onFull?: () => void;
  clock?: Clock;
}

/** A cached binding as the admin reads it: without touching its idle clock. */
export interface CachedBinding {
  readonly path: Path;
  readonly local: Dtab;
  /** The binding's current state (a Var read with `sample`). */
  readonly state: { readonly sample: State };
}

type State = ActivityState<NameTree<BoundName>>;

/** One cached binding: the interpreter's live binding, and the cache's own observation that keeps it bound. */
interface Held extends CachedBinding {
  readonly state: Activity<NameTree<BoundName>>;
  readonly keep: Closable;
  readonly localKey: string;
  readonly pathKey: string;
}

/**
 * Bound trees per (logical name, request-local dtab), the way Linkerd's `DstBindingFactory`
 * caches by path and local dtab (the base dtab is not part of the key: it is one more input each
 * binding observes, so a dtab file reload re-binds every cached name, each switching once).
 *
 * The cache observes each binding it holds, so its namer watches stay open and its Activity is
 * always current; the idle table decides how long: an idle TTL after the last `get` (the transient
 * TTL for local-dtab and Neg/failed bindings), never while someone else observes it. A warm `get`
 * is two map lookups on the memoized `encode()`/`show()` strings of its arguments and one assignment.
 */
export class BindingCache {
  private readonly table: IdleTable<string, Held>;
  /** The table's entries by local dtab, then path: a hit needs no key built from both. */
  private readonly index = new Map<string, Map<string, TableEntry<string, Held>>>();

  constructor(
    private readonly interpreter: NameInterpreter,
    private readonly baseDtab: Var<Dtab>,
    options: BindingCacheOptions = {},
  ) {
    this.table = new IdleTable<string, Held>({
      idleTtlMs: Math.max(1, options.idleTtlMs ?? 600_000),
      transientIdleTtlMs: Math.max(1, options.transientIdleTtlMs ?? 10_000),
      isTransient,
      // Someone besides the cache observes it (a stream waiting for it): in use.
      inUse: (held) => held.state.observerCount > 1,
      maxEntries: Math.max(1, options.maxEntries ?? 1000),
      onFull: options.onFull,
      dispose: (held) => this.release(held),
      clock: options.clock,
    });
  }

  /**
   * The live binding of `path` under `baseDtab ++ local`. When the cache is full of bindings in use,
   * an uncached one: it binds while its caller observes it and is let go with it.
   */
  get(path: Path, local: Dtab): Activity<NameTree<BoundName>> {
    const entry = this.index.get(local.encode())?.get(path.show());
    if (entry !== undefined) {
      entry.used = true;
      return entry.value.state;
    }
    return this.miss(path, local);
  }

  /** How many bindings are held. */
  get size(): number {
    return this.table.size;
  }

  /** Every cached binding, for the admin: reading does not keep anything alive. */
  *peek(): IterableIterator<CachedBinding> {
    for (const entry of this.table.values()) yield entry.value;
  }

  /** Release every binding and its namer watches. */
  close(): void {
    this.table.close();
  }

  private miss(path: Path, local: Dtab): Activity<NameTree<BoundName>> {
    // Full-precision weights: with show()'s two decimals, `0.004*/a & 0*/b` and `0*/a & 0.004*/b` shared a binding.
    const localKey = local.encode();
    const pathKey = path.show();
    const entry = this.table.get(`${localKey}\n${pathKey}`, () => {
      const state = this.interpreter.bind(this.baseDtab, path, local);
      return { path, local, state, keep: state.observe(() => {}), localKey, pathKey };
    });
    if (entry === undefined) return this.interpreter.bind(this.baseDtab, path, local);
    let inner = this.index.get(localKey);
    if (inner === undefined) this.index.set(localKey, (inner = new Map()));
    inner.set(pathKey, entry);
    return entry.value.state;
  }

  private release(held: Held): void {
    const inner = this.index.get(held.localKey);
    if (inner?.get(held.pathKey)?.value === held) {
      inner.delete(held.pathKey);
      if (inner.size === 0) this.index.delete(held.localKey);
    }
    held.keep.close();
  }
}

/** Made by a request-local dtab, or naming nothing that exists: let go soon after its last use. */
function isTransient(held: Held): boolean {
  if (!held.local.isEmpty) return true;
  const s = held.state.sample;
  return s.status === 'failed' || (s.status === 'ok' && (s.value.kind === 'neg' || s.value.kind === 'fail'));
}
