/** Label values as prom-client takes them (its own type is not exported). */
export type Labels<T extends string> = Partial<Record<T, string | number>>;

/**
 * A cell's labels in the family's label-name order (the order prom-client prints them in), and a key
 * that finds the same cell again for the same label values. Resolved once per cell, never per stream.
 */
export class LabelSet<T extends string> {
  private constructor(
    readonly labels: Readonly<Labels<T>>,
    readonly key: string,
  ) {}

  /** Throws, naming the family and the label, for a label the family does not declare. */
  static of<T extends string>(family: string, labelNames: readonly T[], given: Labels<T>): LabelSet<T> {
    for (const name of Object.keys(given)) {
      if (!(labelNames as readonly string[]).includes(name)) {
        throw new Error(`metric ${family}: unknown label "${name}" (its labels are: ${labelNames.join(', ')})`);
      }
    }
    const labels: Labels<T> = {};
    const parts: (string | null)[] = [];
    for (const name of labelNames) {
      const v = given[name];
      if (v !== undefined) labels[name] = v;
      // A missing label and an empty one are different series in prom-client; JSON keeps them apart.
      parts.push(v === undefined ? null : String(v));
    }
    return new LabelSet(Object.freeze(labels), JSON.stringify(parts));
  }
}
