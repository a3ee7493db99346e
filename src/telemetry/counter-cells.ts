import { Counter, type CounterConfiguration } from './prom-client.js';
import type { Labels } from './label-set.js';
import { CellTable } from './cell-table.js';

/** One counter series as a plain number: the hot path adds to `value` and does nothing else. */
export class CounterCell {
  value = 0;
  /** How much of `value` the family already holds (published at an earlier scrape). */
  published = 0;

  constructor(readonly labels: Readonly<Labels<string>>) {}

  inc(by = 1): void {
    this.value += by;
  }
}

/**
 * A prom-client Counter whose per-stream series live in cells: `cell(labels)` is resolved once (per
 * client, endpoint, …) like a labelled child, and the family's `collect` hook, which prom-client runs
 * before every read (`registry.metrics()`, `getMetricsAsJSON()`, `get()`), adds each cell's growth
 * since the last read to its labelled series. So the label hashing a child's `inc()` does on every
 * call happens once per series per scrape. Direct `inc(labels, n)` calls still work and add up.
 */
export class CellCounter<T extends string> extends Counter<T> {
  readonly #cells: CellTable<T, CounterCell>;

  constructor(config: CounterConfiguration<T>) {
    const own = config.collect;
    super({
      ...config,
      collect(this: Counter<T>) {
        (this as CellCounter<T>).#publish();
        return own?.call(this);
      },
    });
    this.#cells = new CellTable(config.name, config.labelNames ?? [], (labels) => new CounterCell(labels));
  }

  /** The cell of one label set (the same cell for the same values); resolve once, bump per stream. */
  cell(labels: Labels<T>): CounterCell {
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
      const delta = c.value - c.published;
      // A cell nothing bumped yet has no series, as a child nothing incremented has none.
      if (delta <= 0) continue;
      this.inc(c.labels as Labels<T>, delta);
      c.published = c.value;
    }
  }
}
