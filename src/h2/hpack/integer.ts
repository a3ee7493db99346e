import { HpackError } from './errors.js';

/**
 * Prefix integers (RFC 7541 §5.1). Values are bounded to 2^31-1 (every quantity HPACK
 * carries — an index, a string length, a table size — fits) and to 5 continuation octets,
 * which is what 2^31-1 needs; anything longer is refused rather than accumulated.
 */
export const MAX_INTEGER = 0x7fffffff;
const MAX_CONTINUATION_BYTES = 5;

/** Out-parameter for decodeInteger, so a decoder can reuse one and not allocate per call. */
export interface IntegerCursor {
  value: number;
  /** Offset of the first byte after the integer. */
  next: number;
}

/**
 * Decodes the integer whose prefix occupies the low `prefixBits` (1..8) of buf[pos],
 * reading no further than `end`. Writes the value and the next offset into `out`.
 */
export function decodeInteger(buf: Uint8Array, pos: number, prefixBits: number, end: number, out: IntegerCursor): void {
  if (pos >= end) throw new HpackError('truncated integer', pos);
  const mask = (1 << prefixBits) - 1;
  let value = buf[pos]! & mask;
  let p = pos + 1;
  if (value < mask) {
    out.value = value;
    out.next = p;
    return;
  }
  // value = mask + sum(b_i & 0x7f) * 128^i; multiplication (not <<) keeps it exact past 2^31.
  let factor = 1;
  for (let i = 0; ; i++) {
    if (i === MAX_CONTINUATION_BYTES) throw new HpackError('integer has too many continuation octets', pos);
    if (p >= end) throw new HpackError('truncated integer', pos);
    const b = buf[p++]!;
    value += (b & 0x7f) * factor;
    if (value > MAX_INTEGER) throw new HpackError('integer exceeds 2^31-1', pos);
    if ((b & 0x80) === 0) break;
    factor *= 128;
  }
  out.value = value;
  out.next = p;
}

/** Octets encodeInteger will write for `value` with a `prefixBits` prefix. */
export function integerLength(value: number, prefixBits: number): number {
  const mask = (1 << prefixBits) - 1;
  if (value < mask) return 1;
  let n = 2;
  for (let rest = value - mask; rest >= 128; rest = Math.floor(rest / 128)) n++;
  return n;
}

/**
 * Writes `value` with a `prefixBits` prefix at out[pos]; `flags` are the representation's
 * high bits of the first octet (e.g. 0x80 for an indexed field). Returns the next offset.
 * The caller guarantees room for integerLength(value, prefixBits) octets.
 */
export function encodeInteger(value: number, prefixBits: number, flags: number, out: Uint8Array, pos: number): number {
  if (!Number.isInteger(value) || value < 0 || value > MAX_INTEGER) throw new RangeError(`HPACK integer out of range: ${value}`);
  const mask = (1 << prefixBits) - 1;
  if (value < mask) {
    out[pos++] = flags | value;
    return pos;
  }
  out[pos++] = flags | mask;
  let rest = value - mask;
  while (rest >= 128) {
    out[pos++] = (rest & 0x7f) | 0x80;
    rest = Math.floor(rest / 128);
  }
  out[pos++] = rest;
  return pos;
}
