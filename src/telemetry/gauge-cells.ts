import { Gauge, type GaugeConfiguration } from './prom-client.js';
import type { Labels } from './label-set.js';
import { CellTable } from './cell-table.js';

/** One gauge series as a plain number: the hot path adds to or subtracts from `value`, nothing else. */
export class GaugeCell {
  value = 0;
  /** The value the family's series was last set to (none yet: NaN, so the first read creates it). */
  published = NaN;

  constructor(readonly labels: Readonly<Labels<string>>) {}

  inc(by = 1): void {
    this.value += by;
  }

  dec(by = 1): void {
    this.value -= by;
  }
}

/**
 * A prom-client Gauge whose per-stream series live in cells (see CellCounter): the `collect` hook
 * sets each changed cell's labelled series to the cell's value before every read. A cell's series
 * exists from the first read after it was resolved (a client's in-flight gauge reads 0 rather than
 * being absent after its streams finished between two scrapes).
 */
export class CellGauge<T extends string> extends Gauge<T> {
  readonly #cells: CellTable<T, GaugeCell>;

  constructor(config: GaugeConfiguration<T>) {
    const own = config.collect;
    super({
      ...config,
      collect(this: Gauge<T>) {
        (this as CellGauge<T>).#publish();
        return own?.call(this);
      },
    });
    this.#cells = new CellTable(config.name, config.labelNames ?? [], (labels) => new GaugeCell(labels));
  }

  /** The cell of one label set (the same cell for the same values); resolve once, bump per stream. */
  cell(labels: Labels<T>): GaugeCell {
    return this.#cells.cell(labels);
  }

  /** Remove one series, its cell and whatever the family already published for it (its owner is gone). */
  override remove(labels: Labels<T>): void;
  override remove(...values: string[]): void;
  override remove(...args: [Labels<T>] | string[]): void {
    if (typeof args[0] === 'object') this.#cells.remove(args[0]);
    super.remove(...(args as string[]));
  }

  #publish(): void {
    for (const c of this.#cells.values()) {
      if (c.value === c.published) continue;
      this.set(c.labels as Labels<T>, c.value);
      c.published = c.value;
    }
  }
}
