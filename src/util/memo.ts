/**
 * A bounded memo of pure answers (a header value's Path, a dtab text's parse, a constant namer
 * answer): cleared when full, so a flood of unique keys cannot grow it, and anything dropped is
 * simply computed again. Not for values that own resources: those need a reference-counted table.
 */
export class Memo<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly limit = 1024) {}
  get(key: string): V | undefined {
    return this.map.get(key);
  }
  set(key: string, value: V): V {
    if (this.map.size >= this.limit) this.map.clear();
    this.map.set(key, value);
    return value;
  }
  get size(): number {
    return this.map.size;
  }
}
