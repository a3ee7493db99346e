/** The label value every name past a budget is counted under (Envoy and Linkerd 2 fold the same way). */
export const OVERFLOW_LABEL = '(overflow)';

/**
 * Longer values are counted under OVERFLOW_LABEL too: the budget bounds how many values, this how
 * long each is. Service names are tens of characters; 1,000 paths of 15 KB made one scrape 287 MB.
 */
export const MAX_LABEL_VALUE_LENGTH = 256;

/**
 * At most `limit` distinct values of one label (a logical service, a bound client) have series of
 * their own; later values share the `(overflow)` series until one of the admitted values is
 * released. Values are reference-counted: one value may be held by several owners.
 *
 * Why: these values come from clients (a `:path`, an `l5d-dtab` override), and every distinct value
 * is a set of series in every scrape; without a budget a client decides how large `/metrics` is.
 */
export class LabelBudget {
  private readonly held = new Map<string, number>();

  constructor(
    readonly limit: number,
    /** Called each time a value is folded into the overflow label (the limit tripped). */
    private readonly onOverflow: () => void = () => {},
  ) {}

  /**
   * The label to use for `value`: itself (now held once more), or OVERFLOW_LABEL, which needs no
   * release. `key` is what the budget counts, when it counts a combination of labels (a route is a
   * service and a client) of which `value` is the one still to be checked for length.
   */
  acquire(value: string, key: string = value): string {
    if (value.length > MAX_LABEL_VALUE_LENGTH) {
      this.onOverflow();
      return OVERFLOW_LABEL;
    }
    const n = this.held.get(key);
    if (n !== undefined) {
      this.held.set(key, n + 1);
      return value;
    }
    if (this.held.size >= this.limit) {
      this.onOverflow();
      return OVERFLOW_LABEL;
    }
    this.held.set(key, 1);
    return value;
  }

  /** Give back one hold of a key (a label `acquire` returned, or its `key`; OVERFLOW_LABEL is ignored). */
  release(key: string): void {
    const n = this.held.get(key);
    if (n === undefined) return;
    if (n <= 1) this.held.delete(key);
    else this.held.set(key, n - 1);
  }

  get size(): number {
    return this.held.size;
  }
}
