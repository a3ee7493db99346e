import { Histogram, globalRegistry, type HistogramConfiguration, type Registry } from './prom-client.js';
import type { Labels } from './label-set.js';
import { CellTable } from './cell-table.js';

/**
 * One histogram series as plain numbers: a count per bucket (not cumulative; the last slot is
 * above the highest bound), the sum and the count. Observing is a short scan of the bounds and
 * three additions.
 */
export class HistogramCell {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Readonly<Labels<string>>,
    readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  /** Record one value (finite; durations from `performance.now()` always are). */
  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    // Buckets are `le`: a value equal to a bound belongs to that bound's bucket.
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }
}

/** A series as prom-client's `get()` reports a histogram's: labels include `le` on `_bucket`. */
interface SeriesValue {
  value: number;
  labels: Labels<string>;
  metricName?: string;
  exemplar?: unknown;
}

/**
 * A prom-client Histogram whose per-stream series live in cells. prom-client offers no public way
 * to add whole buckets to a series, so the cells are not pushed into it: `get()` reports the
 * family's own series (anything observed directly) merged with every cell's, in prom-client's
 * shape (cumulative `_bucket` series with numeric `le`, then `le="+Inf"` equal to the count,
 * `_sum`, `_count`). The registry holds a small exporter in the family's place whose `get()` is
 * this one, so `/metrics`, `getMetricsAsJSON()` and `requestDuration.get()` all see the same.
 */
export class CellHistogram<T extends string> extends Histogram<T> {
  readonly #cells: CellTable<T, HistogramCell>;

  constructor(config: HistogramConfiguration<T>) {
    const buckets = config.buckets;
    if (buckets === undefined || buckets.length === 0) throw new Error(`metric ${config.name}: a cell histogram needs its buckets given`);
    for (let i = 1; i < buckets.length; i++) {
      if (!(buckets[i]! > buckets[i - 1]!)) throw new Error(`metric ${config.name}: bucket bounds must increase (${buckets[i - 1]} then ${buckets[i]})`);
    }
    super({ ...config, registers: [] });
    const bounds = Object.freeze([...buckets]);
    this.#cells = new CellTable(config.name, config.labelNames ?? [], (labels) => new HistogramCell(labels, bounds));
    const exporter = new HistogramExporter(this, config.name, config.help, config.aggregator ?? 'sum');
    // The registry's typings list only its own classes; it reads any object with name, help, type and get().
    for (const r of (config.registers ?? [globalRegistry]) as Registry[]) r.registerMetric(exporter as unknown as Histogram<string>);
  }

  /** The cell of one label set (the same cell for the same values); resolve once, observe per stream. */
  cell(labels: Labels<T>): HistogramCell {
    return this.#cells.cell(labels);
  }

  /** Remove one series, its cell and whatever the family already published for it (its owner is gone). */
  override remove(labels: Labels<T>): void;
  override remove(...values: string[]): void;
  override remove(...args: [Labels<T>] | string[]): void {
    if (typeof args[0] === 'object') this.#cells.remove(args[0]);
    super.remove(...(args as string[]));
  }

  override async get(): Promise<Awaited<ReturnType<Histogram<T>['get']>>> {
    const own = await super.get();
    if (this.#cells.size === 0) return own;
    const values = own.values as unknown as SeriesValue[];
    // Series observed directly on the family and through a cell with the same labels add up (only
    // tests observe directly; the usual read has nothing to merge and skips the keys).
    const index = new Map<string, SeriesValue>();
    for (const v of values) index.set(this.#seriesKey(v.metricName, v.labels), v);
    const add =
      index.size === 0
        ? (v: SeriesValue) => void values.push(v)
        : (v: SeriesValue) => {
            const same = index.get(this.#seriesKey(v.metricName, v.labels));
            if (same !== undefined) same.value += v.value;
            else values.push(v);
          };
    const name = this.#cells.family;
    for (const c of this.#cells.values()) {
      // A cell nothing observed yet has no series, as a child nothing observed has none.
      if (c.count === 0) continue;
      let cumulative = 0;
      for (let i = 0; i < c.bounds.length; i++) {
        cumulative += c.counts[i]!;
        add({ value: cumulative, labels: { le: c.bounds[i]!, ...c.labels }, metricName: `${name}_bucket`, exemplar: null });
      }
      // Read once: count, +Inf and the buckets come from the same synchronous moment.
      add({ value: c.count, labels: { le: '+Inf', ...c.labels }, metricName: `${name}_bucket`, exemplar: null });
      add({ value: c.sum, labels: { ...c.labels }, metricName: `${name}_sum`, exemplar: undefined });
      add({ value: c.count, labels: { ...c.labels }, metricName: `${name}_count`, exemplar: undefined });
    }
    return own;
  }

  #seriesKey(metricName: string | undefined, labels: Labels<string>): string {
    const parts: unknown[] = [metricName, labels.le === undefined ? null : String(labels.le)];
    for (const n of this.#cells.labelNames) parts.push(labels[n] === undefined ? null : String(labels[n]));
    return JSON.stringify(parts);
  }

  /** Zero every cell (what `registry.resetMetrics()` means for this family). */
  resetCells(): void {
    for (const c of this.#cells.values()) {
      c.counts.fill(0);
      c.sum = 0;
      c.count = 0;
    }
  }
}

/**
 * What the registry holds for a CellHistogram: prom-client's custom-metric contract (name, help,
 * type, aggregator, `get()`; no `getForPromString`, so the registry formats `get()`'s series).
 */
class HistogramExporter<T extends string> {
  readonly type = 'histogram';

  constructor(
    private readonly family: CellHistogram<T>,
    readonly name: string,
    readonly help: string,
    readonly aggregator: string,
  ) {}

  get(): ReturnType<Histogram<T>['get']> {
    return this.family.get();
  }

  reset(): void {
    this.family.reset();
    this.family.resetCells();
  }
}
