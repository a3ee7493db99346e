import { DynamicTable, ENTRY_OVERHEAD } from './dynamic-table.js';
import { FIELD_NEVER_INDEXED, FIELD_NO_INDEX, type FieldInput, type FieldSink, type HeaderList } from './header-list.js';
import { huffmanEncodedLengthOfString, huffmanEncodeStringInto } from './huffman.js';
import { encodeInteger } from './integer.js';
import { STATIC_FIELD_INDEX, STATIC_NAME_INDEX, STATIC_TABLE_LENGTH } from './static-table.js';

/** 'auto': Huffman-code a string when that is shorter (§5.2); 'never'/'always' for tests and peers that care. */
export type HuffmanPolicy = 'auto' | 'never' | 'always';

export interface HpackEncoderOptions {
  /** The dynamic table size both ends start with (4096 in HTTP/2) — the peer's SETTINGS_HEADER_TABLE_SIZE until it says otherwise. */
  tableSize?: number;
  /**
   * The most table this encoder will use whatever the peer allows, bounding the memory a
   * peer can make us keep. If below tableSize, the first block starts with a size update.
   */
  maxTableSize?: number;
  huffman?: HuffmanPolicy;
  /**
   * Names whose values differ on nearly every call: indexing each would only churn the table
   * and push out the fields that do repeat. Such a field is indexed only while no table
   * entry has its name (so later ones can refer to the name); otherwise it is sent without
   * indexing. Default: grpc-timeout and content-length.
   */
  noIndexNames?: Iterable<string>;
}

const DEFAULT_NO_INDEX_NAMES = ['grpc-timeout', 'content-length'];


/**
 * One connection's HPACK encoding context. Fields are latin1 strings (one char per octet;
 * chars above 0xff are written as their low octet, as Buffer's 'latin1' does).
 */
export class HpackEncoder implements FieldSink {
  readonly table: DynamicTable;
  private readonly cap: number;
  private readonly huffman: HuffmanPolicy;
  private readonly noIndexNames: ReadonlySet<string>;
  /** Size updates owed at the start of the next block (§4.2): smallest and final value, -1 if none. */
  private pendingMin = -1;
  private pendingFinal = -1;
  /** name -> (value -> insertion number) and name -> insertion number of the newest entry with that name. */
  private readonly fieldIndex = new Map<string, Map<string, number>>();
  private readonly nameIndex = new Map<string, number>();
  private out: Buffer = Buffer.allocUnsafe(1024);
  private pos = 0;

  constructor(options: HpackEncoderOptions = {}) {
    const initial = options.tableSize ?? 4096;
    this.cap = options.maxTableSize ?? 4096;
    this.huffman = options.huffman ?? 'auto';
    this.noIndexNames = new Set(options.noIndexNames ?? DEFAULT_NO_INDEX_NAMES);
    this.table = new DynamicTable(initial);
    this.table.onEvict = (name, value, insertion) => {
      const byValue = this.fieldIndex.get(name);
      if (byValue !== undefined && byValue.get(value) === insertion) {
        byValue.delete(value);
        if (byValue.size === 0) this.fieldIndex.delete(name);
      }
      if (this.nameIndex.get(name) === insertion) this.nameIndex.delete(name);
    };
    if (this.cap < initial) this.pendingMin = this.pendingFinal = this.cap;
  }

  /**
   * The peer's SETTINGS_HEADER_TABLE_SIZE is now `limit`. The table follows min(limit, cap);
   * if that changes, the next block starts with the size update(s) §4.2 requires — the smallest
   * size since the last block first, then the final one.
   */
  setMaxTableSize(limit: number): void {
    const size = Math.min(limit, this.cap);
    if (size === this.table.maxSize && this.pendingFinal < 0) return;
    this.pendingMin = this.pendingMin < 0 ? size : Math.min(this.pendingMin, size);
    this.pendingFinal = size;
  }

  /** Encodes a list of fields as one header block. */
  encode(fields: readonly FieldInput[]): Buffer {
    this.begin();
    this.addFields(fields);
    return this.finish();
  }

  /** Encodes a decoded HeaderList, keeping never-indexed fields never-indexed (RFC 7541 §7.1.3). */
  encodeList(list: HeaderList): Buffer {
    this.begin();
    this.addList(list);
    return this.finish();
  }

  /** Appends fields to the block begun with begin(). */
  addFields(fields: readonly FieldInput[]): void {
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i]!;
      this.field(f[0], f[1], f[2] ?? 0);
    }
  }

  /** Appends a decoded HeaderList's fields to the block begun with begin(), flags kept. */
  addList(list: HeaderList): void {
    for (let i = 0; i < list.length; i++) this.field(list.names[i]!, list.values[i]!, list.flags[i]!);
  }

  /** FieldSink: a field source can write straight into the block begun with begin(). */
  onField(name: string, value: string, flags: number): void {
    this.field(name, value, flags);
  }

  /** Starts a block: emits any owed table size updates. */
  begin(): void {
    this.pos = 0;
    // One huge block must not keep its buffer for good.
    if (this.out.length > 64 * 1024) this.out = Buffer.allocUnsafe(1024);
    if (this.pendingFinal >= 0) {
      if (this.pendingMin < this.pendingFinal) this.sizeUpdate(this.pendingMin);
      this.sizeUpdate(this.pendingFinal);
      this.pendingMin = this.pendingFinal = -1;
    }
  }

  /** Appends one field to the block begun with begin(). */
  field(name: string, value: string, flags = 0): void {
    const never = (flags & FIELD_NEVER_INDEXED) !== 0;
    const table = this.table;
    if (!never) {
      // A whole-field match costs one index octet or two and adds nothing to the table.
      let idx = STATIC_FIELD_INDEX.get(name)?.get(value) ?? 0;
      if (idx === 0) {
        const insertion = this.fieldIndex.get(name)?.get(value);
        if (insertion !== undefined) {
          const d = table.indexOfInsertion(insertion);
          if (d !== 0) idx = STATIC_TABLE_LENGTH + d;
        }
      }
      if (idx !== 0) {
        this.ensure(6);
        this.pos = encodeInteger(idx, 7, 0x80, this.out, this.pos);
        return;
      }
    }
    let nameIdx = STATIC_NAME_INDEX.get(name) ?? 0;
    if (nameIdx === 0) {
      const insertion = this.nameIndex.get(name);
      if (insertion !== undefined) {
        const d = table.indexOfInsertion(insertion);
        if (d !== 0) nameIdx = STATIC_TABLE_LENGTH + d;
      }
    }
    // An entry bigger than the table would only empty it (§4.4): send such a field unindexed.
    const incremental =
      !never && (flags & FIELD_NO_INDEX) === 0 && name.length + value.length + ENTRY_OVERHEAD <= table.maxSize && (nameIdx === 0 || !this.noIndexNames.has(name));
    this.ensure(6);
    if (incremental) this.pos = encodeInteger(nameIdx, 6, 0x40, this.out, this.pos);
    else this.pos = encodeInteger(nameIdx, 4, never ? 0x10 : 0x00, this.out, this.pos);
    if (nameIdx === 0) this.string(name);
    this.string(value);
    if (incremental) {
      const insertion = table.insertCount;
      table.add(name, value);
      let byValue = this.fieldIndex.get(name);
      if (byValue === undefined) this.fieldIndex.set(name, (byValue = new Map()));
      byValue.set(value, insertion);
      this.nameIndex.set(name, insertion);
    }
  }

  /** Ends the block; returns it as a new Buffer of exactly its length. */
  finish(): Buffer {
    const block = Buffer.allocUnsafe(this.pos);
    this.out.copy(block, 0, 0, this.pos);
    return block;
  }

  /**
   * Ends the block without copying it: it is the first `end()` octets of `output`, valid until the
   * next begin(). For a caller that copies it anyway (the frame writer does), one allocation and
   * one copy fewer per block.
   */
  end(): number {
    return this.pos;
  }

  /** The buffer the current block is encoded in (see end()). */
  get output(): Buffer {
    return this.out;
  }

  private sizeUpdate(size: number): void {
    this.ensure(6);
    this.pos = encodeInteger(size, 5, 0x20, this.out, this.pos);
    this.table.setMaxSize(size);
  }

  private string(s: string): void {
    const raw = s.length;
    let hlen = -1;
    if (this.huffman !== 'never') {
      hlen = huffmanEncodedLengthOfString(s);
      if (this.huffman === 'auto' && hlen >= raw) hlen = -1;
    }
    const len = hlen >= 0 ? hlen : raw;
    this.ensure(6 + len);
    if (hlen >= 0) {
      this.pos = encodeInteger(hlen, 7, 0x80, this.out, this.pos);
      this.pos = huffmanEncodeStringInto(s, this.out, this.pos);
    } else {
      this.pos = encodeInteger(raw, 7, 0x00, this.out, this.pos);
      this.pos += this.out.write(s, this.pos, 'latin1');
    }
  }

  private ensure(n: number): void {
    if (this.out.length - this.pos >= n) return;
    const next = Buffer.allocUnsafe(Math.max(this.out.length * 2, this.pos + n));
    this.out.copy(next, 0, 0, this.pos);
    this.out = next;
  }
}
