import type { Labels } from './label-set.js';

/** A metric family that can drop one series: prom-client's own families and the cell families. */
export interface RemovableFamily<T extends string> {
  remove(labels: Labels<T>): void;
}

/**
 * The metric series one short-lived thing (a bound client, an endpoint, a service's stats) created,
 * so they leave `/metrics` with it: series keyed by names that clients choose must not outlive the
 * names. Record each series where it is resolved; `release()` removes them all.
 *
 * Series under a shared overflow label are never recorded: other owners use them too.
 */
export class SeriesOwner {
  private readonly series: [RemovableFamily<string>, Labels<string>][] = [];

  /** Note that `labels` of `family` belong to this owner; returns `labels`. */
  own<T extends string, L extends Labels<T>>(family: RemovableFamily<T>, labels: L): L {
    this.series.push([family as RemovableFamily<string>, labels]);
    return labels;
  }

  release(): void {
    for (const [family, labels] of this.series.splice(0)) family.remove(labels);
  }
}
