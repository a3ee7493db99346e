/**
 * The dynamic table (RFC 7541 §2.3.2, §4): a FIFO of fields, newest at index 1, whose size
 * is the sum over entries of name octets + value octets + 32 (§4.1). Stored as a ring buffer
 * of parallel arrays so adding and evicting never shift anything.
 *
 * Names and values are latin1 strings (one char per octet), so .length is the octet count.
 */
export const ENTRY_OVERHEAD = 32;

export class DynamicTable {
  private names: string[];
  private values: string[];
  /** Per-entry flags the decoder wants back when the entry is referenced (e.g. upper-case name). */
  private flags: Uint8Array;
  private mask: number;
  /** Ring slot of the oldest entry. */
  private tail = 0;
  private count = 0;
  private bytes = 0;
  private max: number;
  /** Entries ever inserted; entry with insertion number a is at index inserted - a (1-based, newest = 1). */
  private inserted = 0;
  /** Called for each evicted entry with its insertion number (the encoder keeps its lookup maps in step). */
  onEvict: ((name: string, value: string, insertion: number) => void) | undefined;

  constructor(maxSize: number) {
    this.max = maxSize;
    const cap = 16;
    this.names = new Array<string>(cap).fill('');
    this.values = new Array<string>(cap).fill('');
    this.flags = new Uint8Array(cap);
    this.mask = cap - 1;
  }

  /** Number of entries. */
  get length(): number {
    return this.count;
  }
  /** Current size in the §4.1 sense. */
  get size(): number {
    return this.bytes;
  }
  get maxSize(): number {
    return this.max;
  }
  /** Insertion number the next added entry will get. */
  get insertCount(): number {
    return this.inserted;
  }

  /** Changes the maximum size, evicting oldest entries until the table fits (§4.3). */
  setMaxSize(maxSize: number): void {
    this.max = maxSize;
    while (this.bytes > maxSize) this.evictOne();
  }

  /**
   * Adds an entry (§4.4): evicts until it fits; an entry larger than the maximum size empties
   * the table and is not added (not an error).
   */
  add(name: string, value: string, flags = 0): void {
    const size = name.length + value.length + ENTRY_OVERHEAD;
    if (size > this.max) {
      this.clear();
      return;
    }
    while (this.bytes + size > this.max) this.evictOne();
    if (this.count === this.mask + 1) this.grow();
    const slot = (this.tail + this.count) & this.mask;
    this.names[slot] = name;
    this.values[slot] = value;
    this.flags[slot] = flags;
    this.count++;
    this.bytes += size;
    this.inserted++;
  }

  /** Evicts every entry (what adding an entry larger than the maximum size does, §4.4). */
  clear(): void {
    while (this.count > 0) this.evictOne();
  }

  /** Slot of 1-based index i (1 = newest); the caller checks 1 <= i <= length. */
  private slot(i: number): number {
    return (this.tail + this.count - i) & this.mask;
  }
  name(i: number): string {
    return this.names[this.slot(i)]!;
  }
  value(i: number): string {
    return this.values[this.slot(i)]!;
  }
  entryFlags(i: number): number {
    return this.flags[this.slot(i)]!;
  }

  /** 1-based index of the entry with insertion number a, or 0 if it has been evicted. */
  indexOfInsertion(a: number): number {
    const i = this.inserted - a;
    return i >= 1 && i <= this.count ? i : 0;
  }

  /** Entries newest first, for tests and debugging. */
  entries(): [string, string][] {
    const out: [string, string][] = [];
    for (let i = 1; i <= this.count; i++) out.push([this.name(i), this.value(i)]);
    return out;
  }

  private evictOne(): void {
    const slot = this.tail;
    const name = this.names[slot]!;
    const value = this.values[slot]!;
    this.names[slot] = '';
    this.values[slot] = '';
    this.tail = (slot + 1) & this.mask;
    this.count--;
    this.bytes -= name.length + value.length + ENTRY_OVERHEAD;
    if (this.onEvict !== undefined) this.onEvict(name, value, this.inserted - this.count - 1);
  }

  private grow(): void {
    const cap = (this.mask + 1) * 2;
    const names = new Array<string>(cap).fill('');
    const values = new Array<string>(cap).fill('');
    const flags = new Uint8Array(cap);
    for (let i = 0; i < this.count; i++) {
      const s = (this.tail + i) & this.mask;
      names[i] = this.names[s]!;
      values[i] = this.values[s]!;
      flags[i] = this.flags[s]!;
    }
    this.names = names;
    this.values = values;
    this.flags = flags;
    this.tail = 0;
    this.mask = cap - 1;
  }
}
