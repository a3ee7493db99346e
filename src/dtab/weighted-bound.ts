import { Var } from '../util/var.js';
import type { Addr, BoundName } from './name.js';

/** Finagle's `Namer.AddrWeightKey`: the Union weight a bound address set was reached with. */
export const ADDR_WEIGHT_KEY = 'namer_nametree_weight';

// One weighted view per (bound name, weight), so re-binding yields the very same objects.
const views = new WeakMap<BoundName, Map<number, BoundName>>();

/**
 * The bound name as reached under a Union branch of weight `weight`: the same id and residual,
 * its address set carrying the weight in `meta` (as Finagle's `Namer.bind` records it).
 */
export function weightedBound(bound: BoundName, weight: number): BoundName {
  let byWeight = views.get(bound);
  if (byWeight === undefined) views.set(bound, (byWeight = new Map()));
  let view = byWeight.get(weight);
  if (view === undefined) {
    view = { kind: 'bound', id: bound.id, residual: bound.residual, addr: new WeightedAddr(bound.addr, weight) };
    byWeight.set(weight, view);
  }
  return view;
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
