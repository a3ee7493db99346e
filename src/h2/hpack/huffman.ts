import { HpackError } from './errors.js';

/**
 * The static Huffman code of RFC 7541 Appendix B: for symbol i (0..255, and 256 = EOS),
 * CODES[i] is the code right-aligned and LENGTHS[i] its length in bits. Transcribed from
 * the appendix; the test suite checks it is the complete canonical code the appendix says
 * it is, so a mistyped row cannot go unnoticed.
 */
// prettier-ignore
export const CODES: readonly number[] = [
  0x1ff8, 0x7fffd8, 0xfffffe2, 0xfffffe3, 0xfffffe4, 0xfffffe5, 0xfffffe6, 0xfffffe7,
  0xfffffe8, 0xffffea, 0x3ffffffc, 0xfffffe9, 0xfffffea, 0x3ffffffd, 0xfffffeb, 0xfffffec,
  0xfffffed, 0xfffffee, 0xfffffef, 0xffffff0, 0xffffff1, 0xffffff2, 0x3ffffffe, 0xffffff3,
  0xffffff4, 0xffffff5, 0xffffff6, 0xffffff7, 0xffffff8, 0xffffff9, 0xffffffa, 0xffffffb,
  0x14, 0x3f8, 0x3f9, 0xffa, 0x1ff9, 0x15, 0xf8, 0x7fa,
  0x3fa, 0x3fb, 0xf9, 0x7fb, 0xfa, 0x16, 0x17, 0x18,
  0x0, 0x1, 0x2, 0x19, 0x1a, 0x1b, 0x1c, 0x1d,
  0x1e, 0x1f, 0x5c, 0xfb, 0x7ffc, 0x20, 0xffb, 0x3fc,
  0x1ffa, 0x21, 0x5d, 0x5e, 0x5f, 0x60, 0x61, 0x62,
  0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a,
  0x6b, 0x6c, 0x6d, 0x6e, 0x6f, 0x70, 0x71, 0x72,
  0xfc, 0x73, 0xfd, 0x1ffb, 0x7fff0, 0x1ffc, 0x3ffc, 0x22,
  0x7ffd, 0x3, 0x23, 0x4, 0x24, 0x5, 0x25, 0x26,
  0x27, 0x6, 0x74, 0x75, 0x28, 0x29, 0x2a, 0x7,
  0x2b, 0x76, 0x2c, 0x8, 0x9, 0x2d, 0x77, 0x78,
  0x79, 0x7a, 0x7b, 0x7ffe, 0x7fc, 0x3ffd, 0x1ffd, 0xffffffc,
  0xfffe6, 0x3fffd2, 0xfffe7, 0xfffe8, 0x3fffd3, 0x3fffd4, 0x3fffd5, 0x7fffd9,
  0x3fffd6, 0x7fffda, 0x7fffdb, 0x7fffdc, 0x7fffdd, 0x7fffde, 0xffffeb, 0x7fffdf,
  0xffffec, 0xffffed, 0x3fffd7, 0x7fffe0, 0xffffee, 0x7fffe1, 0x7fffe2, 0x7fffe3,
  0x7fffe4, 0x1fffdc, 0x3fffd8, 0x7fffe5, 0x3fffd9, 0x7fffe6, 0x7fffe7, 0xffffef,
  0x3fffda, 0x1fffdd, 0xfffe9, 0x3fffdb, 0x3fffdc, 0x7fffe8, 0x7fffe9, 0x1fffde,
  0x7fffea, 0x3fffdd, 0x3fffde, 0xfffff0, 0x1fffdf, 0x3fffdf, 0x7fffeb, 0x7fffec,
  0x1fffe0, 0x1fffe1, 0x3fffe0, 0x1fffe2, 0x7fffed, 0x3fffe1, 0x7fffee, 0x7fffef,
  0xfffea, 0x3fffe2, 0x3fffe3, 0x3fffe4, 0x7ffff0, 0x3fffe5, 0x3fffe6, 0x7ffff1,
  0x3ffffe0, 0x3ffffe1, 0xfffeb, 0x7fff1, 0x3fffe7, 0x7ffff2, 0x3fffe8, 0x1ffffec,
  0x3ffffe2, 0x3ffffe3, 0x3ffffe4, 0x7ffffde, 0x7ffffdf, 0x3ffffe5, 0xfffff1, 0x1ffffed,
  0x7fff2, 0x1fffe3, 0x3ffffe6, 0x7ffffe0, 0x7ffffe1, 0x3ffffe7, 0x7ffffe2, 0xfffff2,
  0x1fffe4, 0x1fffe5, 0x3ffffe8, 0x3ffffe9, 0xffffffd, 0x7ffffe3, 0x7ffffe4, 0x7ffffe5,
  0xfffec, 0xfffff3, 0xfffed, 0x1fffe6, 0x3fffe9, 0x1fffe7, 0x1fffe8, 0x7ffff3,
  0x3fffea, 0x3fffeb, 0x1ffffee, 0x1ffffef, 0xfffff4, 0xfffff5, 0x3ffffea, 0x7ffff4,
  0x3ffffeb, 0x7ffffe6, 0x3ffffec, 0x3ffffed, 0x7ffffe7, 0x7ffffe8, 0x7ffffe9, 0x7ffffea,
  0x7ffffeb, 0xffffffe, 0x7ffffec, 0x7ffffed, 0x7ffffee, 0x7ffffef, 0x7fffff0, 0x3ffffee,
  0x3fffffff,
];

// prettier-ignore
export const LENGTHS: readonly number[] = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
  28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,
  5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
  7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,
  6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
  24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
  21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
  26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  30,
];

export const EOS = 256;

// Typed copies for the hot loops.
const codeOf = Uint32Array.from(CODES);
const lenOf = Uint8Array.from(LENGTHS);

/** Octets the Huffman coding of bytes[start, end) takes, padding included. */
export function huffmanEncodedLength(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let bits = 0;
  for (let i = start; i < end; i++) bits += lenOf[bytes[i]!]!;
  return (bits + 7) >>> 3;
}

/** Same, for a string whose characters are octets (latin1: only the low 8 bits of each char count). */
export function huffmanEncodedLengthOfString(s: string): number {
  let bits = 0;
  for (let i = 0; i < s.length; i++) bits += lenOf[s.charCodeAt(i) & 0xff]!;
  return (bits + 7) >>> 3;
}

/*
 * Encoding keeps fewer than 8 pending bits in `acc` between symbols, so appending a code of
 * up to 24 bits stays within 32 bits; the few longer codes (25..30 bits) go in two pieces.
 * The final partial octet is padded with the most significant bits of EOS, i.e. ones (§5.2).
 */

/** Huffman-codes bytes[start, end) into out at pos; returns the next offset. */
export function huffmanEncodeInto(bytes: Uint8Array, start: number, end: number, out: Uint8Array, pos: number): number {
  let acc = 0;
  let bits = 0;
  for (let i = start; i < end; i++) {
    const sym = bytes[i]!;
    let code = codeOf[sym]!;
    let len = lenOf[sym]!;
    if (len > 24) {
      const hiLen = len - 16;
      acc = (acc << hiLen) | (code >>> 16);
      bits += hiLen;
      while (bits >= 8) { bits -= 8; out[pos++] = acc >>> bits; }
      acc &= (1 << bits) - 1;
      code &= 0xffff;
      len = 16;
    }
    acc = (acc << len) | code;
    bits += len;
    while (bits >= 8) { bits -= 8; out[pos++] = acc >>> bits; }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out[pos++] = (acc << (8 - bits)) | (0xff >>> bits);
  return pos;
}

/** As huffmanEncodeInto, for a latin1 string (the encoder's input; no intermediate Buffer). */
export function huffmanEncodeStringInto(s: string, out: Uint8Array, pos: number): number {
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < s.length; i++) {
    const sym = s.charCodeAt(i) & 0xff;
    let code = codeOf[sym]!;
    let len = lenOf[sym]!;
    if (len > 24) {
      const hiLen = len - 16;
      acc = (acc << hiLen) | (code >>> 16);
      bits += hiLen;
      while (bits >= 8) { bits -= 8; out[pos++] = acc >>> bits; }
      acc &= (1 << bits) - 1;
      code &= 0xffff;
      len = 16;
    }
    acc = (acc << len) | code;
    bits += len;
    while (bits >= 8) { bits -= 8; out[pos++] = acc >>> bits; }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out[pos++] = (acc << (8 - bits)) | (0xff >>> bits);
  return pos;
}

/** Huffman-codes bytes into a new Buffer. */
export function huffmanEncode(bytes: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(huffmanEncodedLength(bytes));
  huffmanEncodeInto(bytes, 0, bytes.length, out, 0);
  return out;
}

/*
 * Decoding: a finite-state machine consuming 4 bits at a time, built once at load from the
 * code table. States are the internal nodes of the code tree (256 of them for 257 leaves);
 * for each (state, nibble) the table gives the next state, the symbol completed on the way
 * if any (at most one: no code is shorter than 5 bits), and whether the nibble ran into EOS.
 * A string may end only in the root or in a node reached from the root by at most 7 one-bits:
 * that is exactly "padding of at most 7 bits that is a prefix of EOS" (§5.2).
 */
const T_EMIT = 0x100;
const T_FAIL = 0x200;
// Entry: next state in bits 16..23, symbol in bits 0..7, flags T_EMIT/T_FAIL.
const transitions = new Uint32Array(256 * 16);
const acceptEnd = new Uint8Array(256);

(function buildDecoder(): void {
  // Tree as parallel arrays; child value >= 0 is an internal node id, < 0 is ~symbol.
  const left: number[] = [0];
  const right: number[] = [0];
  const depthOnes: number[] = [0]; // depth if the path from the root is all ones, else -1
  for (let sym = 0; sym <= EOS; sym++) {
    const code = codeOf[sym]!;
    const len = lenOf[sym]!;
    let node = 0;
    for (let b = len - 1; b >= 0; b--) {
      const bit = (code >>> b) & 1;
      const kids = bit ? right : left;
      if (b === 0) {
        kids[node] = ~sym;
      } else {
        let next = kids[node]!;
        if (next === 0) {
          next = left.length;
          left.push(0);
          right.push(0);
          const d = depthOnes[node]!;
          depthOnes.push(bit && d >= 0 ? d + 1 : -1);
          kids[node] = next;
        }
        node = next;
      }
    }
  }
  for (let state = 0; state < left.length; state++) {
    const d = depthOnes[state]!;
    acceptEnd[state] = d >= 0 && d <= 7 ? 1 : 0;
    for (let nibble = 0; nibble < 16; nibble++) {
      let node = state;
      let entry = 0;
      for (let b = 3; b >= 0; b--) {
        const child = ((nibble >>> b) & 1 ? right : left)[node]!;
        if (child >= 0) {
          node = child;
          continue;
        }
        const sym = ~child;
        if (sym === EOS) {
          entry = T_FAIL;
          break;
        }
        entry = T_EMIT | sym;
        node = 0;
      }
      transitions[state * 16 + nibble] = entry | (node << 16);
    }
  }
})();

/** Upper bound of the decoded length of `encodedLength` Huffman octets (shortest code: 5 bits). */
export function huffmanMaxDecodedLength(encodedLength: number): number {
  return Math.floor((encodedLength * 8) / 5);
}

/**
 * Decodes the Huffman string src[start, end) into out at pos (which must have room for
 * huffmanMaxDecodedLength(end - start) octets); returns the next offset in out.
 * `blockOffset` is only used to name the string's position in an error.
 */
export function huffmanDecodeInto(src: Uint8Array, start: number, end: number, out: Uint8Array, pos: number, blockOffset = start): number {
  let state = 0;
  for (let i = start; i < end; i++) {
    const byte = src[i]!;
    let t = transitions[(state << 4) | (byte >>> 4)]!;
    if (t & T_FAIL) throw new HpackError('Huffman string contains EOS', blockOffset);
    if (t & T_EMIT) out[pos++] = t & 0xff;
    state = t >>> 16;
    t = transitions[(state << 4) | (byte & 0x0f)]!;
    if (t & T_FAIL) throw new HpackError('Huffman string contains EOS', blockOffset);
    if (t & T_EMIT) out[pos++] = t & 0xff;
    state = t >>> 16;
  }
  if (!acceptEnd[state]) throw new HpackError('Huffman string has invalid padding (longer than 7 bits or not the MSBs of EOS)', blockOffset);
  return pos;
}

/** Decodes a whole Huffman string into a new Buffer. Throws HpackError on invalid input. */
export function huffmanDecode(src: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(huffmanMaxDecodedLength(src.length));
  const n = huffmanDecodeInto(src, 0, src.length, out, 0, 0);
  return out.subarray(0, n);
}
