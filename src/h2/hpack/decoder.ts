import { DynamicTable, ENTRY_OVERHEAD } from './dynamic-table.js';
import { HpackError } from './errors.js';
import { FIELD_NAME_UPPERCASE, FIELD_NEVER_INDEXED, FIELD_OCTET_FLAGS, FIELD_VALUE_FORBIDDEN, type FieldSink } from './header-list.js';
import { huffmanDecodeInto, huffmanMaxDecodedLength } from './huffman.js';
import { decodeInteger, type IntegerCursor } from './integer.js';
import { STATIC_NAMES, STATIC_TABLE_LENGTH, STATIC_VALUES } from './static-table.js';

/** The block decoded and every field was delivered. */
export const DECODE_OK = 0;
/**
 * The block decoded and the dynamic table is in step, but the header list exceeded
 * maxHeaderListSize: fields after the limit were not delivered. Refuse the stream only
 * (e.g. a gRPC RESOURCE_EXHAUSTED trailers-only response); the connection is fine.
 */
export const DECODE_HEADER_LIST_TOO_LARGE = 1;
export type DecodeOutcome = typeof DECODE_OK | typeof DECODE_HEADER_LIST_TOO_LARGE;

export interface HpackDecoderOptions {
  /**
   * The dynamic table size both ends start with and the limit the peer's encoder must stay
   * within (our SETTINGS_HEADER_TABLE_SIZE). 4096 in HTTP/2 (RFC 9113 §6.5.2).
   */
  maxTableSize?: number;
  /** Header list size limit, counted as RFC 9113 §6.5.2 does: name + value + 32 per field. */
  maxHeaderListSize?: number;
}

const SCRATCH_KEEP = 64 * 1024;

/**
 * buf[start, end) as a latin1 string. Short strings (most names and many gRPC values) are
 * built in JS: that beats a call into Buffer's native slice by 2-3x at these lengths.
 */
function latin1(buf: Buffer, start: number, end: number): string {
  if (end - start > 12) return buf.toString('latin1', start, end);
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(buf[i]!);
  return s;
}

/**
 * One connection's HPACK decoding context (RFC 7541 §3). Not re-entrant: decode one block
 * at a time, in the order the blocks arrived — every block, including trailers and blocks of
 * streams being refused or reset, or the table falls out of step with the peer's encoder.
 */
export class HpackDecoder {
  readonly table: DynamicTable;
  maxHeaderListSize: number;
  /** Header list size (§6.5.2 count) of the last decoded block, including fields past the limit. */
  lastHeaderListSize = 0;

  private limit: number;
  /** Smallest limit set since the last block that the encoder must acknowledge with a size update; -1 if none. */
  private pendingMin = -1;
  private readonly cur: IntegerCursor = { value: 0, next: 0 };
  private scratch: Buffer = Buffer.allocUnsafe(256);
  private scratchPos = 0;
  // The last string read by readString: a view into the block or into scratch.
  private sBuf: Buffer = this.scratch;
  private sStart = 0;
  private sEnd = 0;

  constructor(options: HpackDecoderOptions = {}) {
    this.limit = options.maxTableSize ?? 4096;
    this.table = new DynamicTable(this.limit);
    this.maxHeaderListSize = options.maxHeaderListSize ?? 64 * 1024;
  }

  /**
   * Our SETTINGS_HEADER_TABLE_SIZE changed and the peer has acknowledged it. If the new limit
   * is below the table's current maximum, the peer's next block must begin with a size update
   * to at most the smallest such limit (RFC 7541 §4.2); decode() enforces that.
   */
  setMaxTableSize(limit: number): void {
    this.limit = limit;
    if (limit < this.table.maxSize) this.pendingMin = this.pendingMin < 0 ? limit : Math.min(this.pendingMin, limit);
  }

  get maxTableSize(): number {
    return this.limit;
  }

  /**
   * Decodes one complete header block (HEADERS + CONTINUATION fragments concatenated),
   * `block[from, to)`, and hands each field to `sink`. Returns DECODE_OK or
   * DECODE_HEADER_LIST_TOO_LARGE; throws HpackError (a connection error, COMPRESSION_ERROR)
   * for anything malformed, its offset counted from `from`.
   */
  decode(block: Uint8Array, sink: FieldSink, from = 0, to = block.length): DecodeOutcome {
    const buf = Buffer.isBuffer(block) ? block : Buffer.from(block.buffer, block.byteOffset, block.byteLength);
    try {
      return this.decodeRange(buf, sink, from, to);
    } catch (e) {
      throw from !== 0 && e instanceof HpackError ? e.rebased(from) : e;
    }
  }

  private decodeRange(buf: Buffer, sink: FieldSink, from: number, end: number): DecodeOutcome {
    const cur = this.cur;
    const table = this.table;
    let pos = from;

    // §4.2 / §6.3: size updates only at the start of a block, each within our limit.
    let minUpdate = Infinity;
    while (pos < end && (buf[pos]! & 0xe0) === 0x20) {
      decodeInteger(buf, pos, 5, end, cur);
      if (cur.value > this.limit) {
        throw new HpackError(`dynamic table size update to ${cur.value} exceeds SETTINGS_HEADER_TABLE_SIZE ${this.limit}`, pos);
      }
      table.setMaxSize(cur.value);
      if (cur.value < minUpdate) minUpdate = cur.value;
      pos = cur.next;
    }
    if (this.pendingMin >= 0) {
      if (minUpdate > this.pendingMin) {
        throw new HpackError(`block must start with a dynamic table size update to at most ${this.pendingMin} after SETTINGS_HEADER_TABLE_SIZE was lowered`, from);
      }
      this.pendingMin = -1;
    }

    const maxList = this.maxHeaderListSize;
    let listSize = 0;
    let over = false;
    try {
      while (pos < end) {
        const start = pos;
        const b = buf[pos]!;

        if (b & 0x80) {
          // §6.1 Indexed Header Field.
          decodeInteger(buf, pos, 7, end, cur);
          pos = cur.next;
          const idx = cur.value;
          let name: string;
          let value: string;
          let flags = 0;
          if (idx === 0) throw new HpackError('index 0 in an indexed header field', start);
          if (idx <= STATIC_TABLE_LENGTH) {
            name = STATIC_NAMES[idx]!;
            value = STATIC_VALUES[idx]!;
          } else {
            const d = idx - STATIC_TABLE_LENGTH;
            if (d > table.length) throw new HpackError(`index ${idx} beyond the ${STATIC_TABLE_LENGTH + table.length} table entries`, start);
            name = table.name(d);
            value = table.value(d);
            flags = table.entryFlags(d);
          }
          listSize += name.length + value.length + ENTRY_OVERHEAD;
          if (!over) {
            if (listSize > maxList) over = true;
            else sink.onField(name, value, flags);
          }
          continue;
        }

        // §6.2 literals: 01xxxxxx incremental, 0000xxxx without indexing, 0001xxxx never indexed.
        let prefix: number;
        let incremental = false;
        let flags = 0;
        if (b & 0x40) {
          prefix = 6;
          incremental = true;
        } else if ((b & 0xe0) === 0x20) {
          throw new HpackError('dynamic table size update after a header field representation', start);
        } else {
          prefix = 4;
          if (b & 0x10) flags = FIELD_NEVER_INDEXED;
        }
        this.scratchPos = 0;
        decodeInteger(buf, pos, prefix, end, cur);
        pos = cur.next;
        const nameIdx = cur.value;
        let name: string | undefined;
        let nBuf = buf;
        let nStart = 0;
        let nEnd = 0;
        if (nameIdx === 0) {
          pos = this.readString(buf, pos, end);
          nBuf = this.sBuf;
          nStart = this.sStart;
          nEnd = this.sEnd;
          for (let i = nStart; i < nEnd; i++) {
            const c = nBuf[i]!;
            if (c >= 0x41 && c <= 0x5a) {
              flags |= FIELD_NAME_UPPERCASE;
              break;
            }
          }
        } else if (nameIdx <= STATIC_TABLE_LENGTH) {
          name = STATIC_NAMES[nameIdx]!;
        } else {
          const d = nameIdx - STATIC_TABLE_LENGTH;
          if (d > table.length) throw new HpackError(`name index ${nameIdx} beyond the ${STATIC_TABLE_LENGTH + table.length} table entries`, start);
          name = table.name(d);
          flags |= table.entryFlags(d) & FIELD_NAME_UPPERCASE; // the entry's name only, not its value
        }
        pos = this.readString(buf, pos, end);

        const nameLen = name === undefined ? nEnd - nStart : name.length;
        const valueLen = this.sEnd - this.sStart;
        const size = nameLen + valueLen + ENTRY_OVERHEAD;
        listSize += size;
        let deliver = false;
        if (!over) {
          if (listSize > maxList) over = true;
          else deliver = true;
        }
        // Strings are only made for a field that is delivered or kept in the table; one too big
        // for the table would just empty it (§4.4), so it needs no strings either.
        const keep = incremental && size <= table.maxSize;
        if (deliver || keep) {
          if (name === undefined) name = latin1(nBuf, nStart, nEnd);
          const vBuf = this.sBuf;
          for (let i = this.sStart; i < this.sEnd; i++) {
            const c = vBuf[i]!;
            if (c === 0x00 || c === 0x0a || c === 0x0d) {
              flags |= FIELD_VALUE_FORBIDDEN;
              break;
            }
          }
          const value = latin1(vBuf, this.sStart, this.sEnd);
          if (deliver) sink.onField(name, value, flags);
          if (keep) table.add(name, value, flags & FIELD_OCTET_FLAGS);
        }
        if (incremental && !keep) table.clear();
      }
    } finally {
      this.lastHeaderListSize = listSize;
      if (this.scratch.length > SCRATCH_KEEP) this.scratch = Buffer.allocUnsafe(256);
      this.sBuf = this.scratch;
    }
    return over ? DECODE_HEADER_LIST_TOO_LARGE : DECODE_OK;
  }

  /**
   * Reads a string literal (§5.2) at pos; leaves its octets in sBuf[sStart, sEnd) and returns
   * the offset after it. The length is checked against what is left of the block before
   * anything is allocated, so a huge length prefix costs nothing.
   */
  private readString(buf: Buffer, pos: number, end: number): number {
    const start = pos;
    if (pos >= end) throw new HpackError('truncated header block: string literal expected', pos);
    const huffman = buf[pos]! & 0x80;
    decodeInteger(buf, pos, 7, end, this.cur);
    const len = this.cur.value;
    pos = this.cur.next;
    if (len > end - pos) throw new HpackError(`string length ${len} exceeds the ${end - pos} octets left in the block`, start);
    if (huffman === 0) {
      this.sBuf = buf;
      this.sStart = pos;
      this.sEnd = pos + len;
      return pos + len;
    }
    const need = huffmanMaxDecodedLength(len);
    if (this.scratch.length - this.scratchPos < need) {
      // A fresh buffer rather than a copy: a name read earlier keeps its view of the old one.
      this.scratch = Buffer.allocUnsafe(Math.max(need, 2 * this.scratch.length));
      this.scratchPos = 0;
    }
    const s = this.scratchPos;
    const e = huffmanDecodeInto(buf, pos, pos + len, this.scratch, s, start);
    this.sBuf = this.scratch;
    this.sStart = s;
    this.sEnd = e;
    this.scratchPos = e;
    return pos + len;
  }
}
