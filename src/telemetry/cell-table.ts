import { LabelSet, type Labels } from './label-set.js';

/**
 * One family's cells by label values: the same values find the same cell, so callers resolve a
 * cell once (per router, client, endpoint) and bump it per stream. `make` builds a new cell from
 * the labels in the family's order.
 */
export class CellTable<T extends string, C> {
  private readonly cells = new Map<string, C>();

  constructor(
    readonly family: string,
    readonly labelNames: readonly T[],
    private readonly make: (labels: Readonly<Labels<T>>) => C,
  ) {}

  /** Throws, naming the family and the label, for a label the family does not declare. */
  cell(labels: Labels<T>): C {
    const set = LabelSet.of(this.family, this.labelNames, labels);
    let c = this.cells.get(set.key);
    if (c === undefined) this.cells.set(set.key, (c = this.make(set.labels)));
    return c;
  }

  /** Forget the cell of one label set (its owner is gone); false when there was none. */
  remove(labels: Labels<T>): boolean {
    return this.cells.delete(LabelSet.of(this.family, this.labelNames, labels).key);
  }

  get size(): number {
    return this.cells.size;
  }

  values(): IterableIterator<C> {
    return this.cells.values();
  }
}
