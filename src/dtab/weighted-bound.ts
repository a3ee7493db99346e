import { Var } from '../util/var.js';
import type { Addr, BoundName } from './name.js';

/** Finagle's `Namer.AddrWeightKey`: the Union weight a bound address set was reached with. */
export const ADDR_WEIGHT_KEY = 'namer_nametree_weight';

/** One shared weighted view, and how many live bindings hold it. */
interface Entry {
  readonly bound: BoundName;
  readonly weight: number;
  readonly view: BoundName;
  holders: number;
}

/**
 * The weighted views bindings hold now, per (bound name, weight). Sharing one view per pair keeps
 * re-binding from yielding new objects: a binding that runs again publishes no change when its tree
 * is the same (`sameBindingState` compares address sets by identity), and the router's client for
 * the id keeps following the address set it already follows.
 *
 * An entry lives only while a binding holds it. The bound name is shared and long-lived (every
 * binding that reaches it, for as long as its namer answers with it), while the weights come from
 * request-local dtabs a client chooses freely: kept on the bound name for good, one view per weight
 * a client ever sent stayed there (a client sending a fresh 90-branch `l5d-dtab` per call grew the
 * heap by ~475 B a weight, never freed). Now a view goes with the last binding holding it, and
 * bindings are bounded and let go by the binding cache.
 */
const views = new WeakMap<BoundName, Map<number, Entry>>();

/** How many weighted views of `bound` live bindings hold (tests check that none outlive their bindings). */
export function weightedViewCount(bound: BoundName): number {
  return views.get(bound)?.size ?? 0;
}

/**
 * The weighted views one binding holds: a pass takes each view it needs with `get`, `sweep` after
 * the pass lets go of those it no longer used, and `close` of all (the binding is released).
 */
export class WeightedViews {
  private held = new Set<Entry>();
  private used = new Set<Entry>();
  private closed = false;

  /**
   * The bound name as reached under a Union branch of weight `weight`: the same id and residual,
   * its address set carrying the weight in `meta` (as Finagle's `Namer.bind` records it). The very
   * same object for every binding holding that (bound name, weight) now.
   */
  get(bound: BoundName, weight: number): BoundName {
    // Closed mid-pass (an observer let the binding go): a view of its own, shared with nobody.
    if (this.closed) return makeView(bound, weight);
    let byWeight = views.get(bound);
    if (byWeight === undefined) views.set(bound, (byWeight = new Map()));
    let entry = byWeight.get(weight);
    if (entry === undefined) {
      entry = { bound, weight, view: makeView(bound, weight), holders: 0 };
      byWeight.set(weight, entry);
    }
    if (!this.held.has(entry)) {
      this.held.add(entry);
      entry.holders++;
    }
    this.used.add(entry);
    return entry.view;
  }

  /** After a pass: let go of the views it did not use. */
  sweep(): void {
    for (const entry of this.held) {
      if (!this.used.has(entry)) {
        this.held.delete(entry);
        drop(entry);
      }
    }
    this.used = new Set();
  }

  /** The binding is released: let go of every view it holds. */
  close(): void {
    this.closed = true;
    for (const entry of this.held) drop(entry);
    this.held = new Set();
    this.used = new Set();
  }
}

function drop(entry: Entry): void {
  if (--entry.holders > 0) return;
  const byWeight = views.get(entry.bound);
  if (byWeight?.get(entry.weight) !== entry) return;
  byWeight.delete(entry.weight);
  if (byWeight.size === 0) views.delete(entry.bound);
}

function makeView(bound: BoundName, weight: number): BoundName {
  return { kind: 'bound', id: bound.id, residual: bound.residual, addr: new WeightedAddr(bound.addr, weight) };
}

/** A live view of an address set with the weight added to its metadata. */
class WeightedAddr extends Var<Addr> {
  private lastIn: Addr | undefined;
  private lastOut: Addr | undefined;

  constructor(
    private readonly source: Var<Addr>,
    private readonly weight: number,
  ) {
    super({ type: 'pending' }, (self) => {
      const o = source.observe((a) => self.set(this.map(a)));
      return () => o.close();
    });
  }

  /** Current even when nobody observes it (then it reads through to the source). */
  override get sample(): Addr {
    return this.observed ? super.sample : this.map(this.source.sample);
  }

  private map(addr: Addr): Addr {
    if (addr !== this.lastIn) {
      this.lastIn = addr;
      this.lastOut = addr.type === 'bound' ? { ...addr, meta: { ...addr.meta, [ADDR_WEIGHT_KEY]: this.weight } } : addr;
    }
    return this.lastOut!;
  }
}
