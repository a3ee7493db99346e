// Huffman code (RFC 7541 §5.2, Appendix B) and prefix integers (§5.1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CODES, LENGTHS } from '../../src/h2/hpack/huffman.js';
import {
  HpackError,
  MAX_INTEGER,
  decodeInteger,
  encodeInteger,
  huffmanDecode,
  huffmanEncode,
  huffmanEncodedLength,
  integerLength,
} from '../../src/h2/hpack/index.js';

test('Appendix B as transcribed is the complete canonical code the RFC says it is', () => {
  assert.equal(CODES.length, 257);
  assert.equal(LENGTHS.length, 257);
  // Canonical: ordering symbols by (length, symbol) and counting up gives every code.
  const order = [...Array(257).keys()].sort((a, b) => LENGTHS[a]! - LENGTHS[b]! || a - b);
  let code = 0;
  let len = LENGTHS[order[0]!]!;
  for (const sym of order) {
    code <<= LENGTHS[sym]! - len;
    len = LENGTHS[sym]!;
    assert.equal(CODES[sym], code, `symbol ${sym}`);
    code++;
  }
  // Complete: the last code is all ones (EOS, 30 bits) and nothing is left over.
  assert.equal(code, 2 ** 30);
  assert.equal(CODES[256], 2 ** 30 - 1);
});

test('Huffman: known strings from Appendix C.4', () => {
  assert.equal(huffmanEncode(Buffer.from('www.example.com')).toString('hex'), 'f1e3c2e5f23a6ba0ab90f4ff');
  assert.equal(huffmanEncode(Buffer.from('no-cache')).toString('hex'), 'a8eb10649cbf');
  assert.equal(huffmanDecode(Buffer.from('25a849e95bb8e8b4bf', 'hex')).toString('latin1'), 'custom-value');
});

test('Huffman: round trip over arbitrary octet strings, and encodedLength is exact', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      const enc = huffmanEncode(bytes);
      assert.equal(enc.length, huffmanEncodedLength(bytes));
      assert.deepEqual(new Uint8Array(huffmanDecode(enc)), bytes);
    }),
    { numRuns: 500 },
  );
});

test('Huffman: EOS in the string, padding over 7 bits, and padding that is not EOS MSBs are refused', () => {
  const bad = (h: string, why: RegExp): void => {
    assert.throws(() => huffmanDecode(Buffer.from(h, 'hex')), (e: unknown) => e instanceof HpackError && why.test(e.message), h);
  };
  bad('ffffffff', /EOS/); // EOS (30 ones) then 2 bits of padding
  bad('1fff', /padding/); // 'a' (00011) + 3 one-bits, then a whole octet of ones: 11 bits of padding
  bad('ff', /padding/); // 8 bits of padding and no symbol
  bad('18', /padding/); // 'a' then 000: padding must be ones
  bad('1e', /padding/); // 'a' then 110
  assert.equal(huffmanDecode(Buffer.from('1f', 'hex')).toString(), 'a'); // 'a' + 111 is fine
  assert.equal(huffmanDecode(Buffer.alloc(0)).length, 0);
  // Bytes whose codes end exactly on an octet boundary need no padding at all.
  assert.equal(huffmanDecode(huffmanEncode(Buffer.from('00000000'))).toString(), '00000000');
});

test('integers: round trip for every prefix size up to 2^31-1, and integerLength is exact', () => {
  const out = Buffer.alloc(8);
  const cur = { value: 0, next: 0 };
  fc.assert(
    fc.property(fc.integer({ min: 0, max: MAX_INTEGER }), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 255 }), (v, prefix, high) => {
      const flags = high & ~((1 << prefix) - 1) & 0xff;
      const end = encodeInteger(v, prefix, flags, out, 0);
      assert.equal(end, integerLength(v, prefix));
      assert.equal(out[0]! & ~((1 << prefix) - 1) & 0xff, flags);
      decodeInteger(out, 0, prefix, end, cur);
      assert.deepEqual([cur.value, cur.next], [v, end]);
    }),
    { numRuns: 500 },
  );
});

/** Encodes any non-negative integer, past the decoder's bound, with `extra` redundant 0x80 octets. */
function rawInteger(v: bigint, prefix: number, extra = 0): Buffer {
  const mask = BigInt((1 << prefix) - 1);
  if (v < mask && extra === 0) return Buffer.from([Number(v)]);
  const bytes = [Number(mask)];
  let rest = v - mask;
  while (rest >= 128n) {
    bytes.push(Number(rest & 127n) | 0x80);
    rest >>= 7n;
  }
  for (let i = 0; i < extra; i++) bytes.push(Number(rest) | 0x80), (rest = 0n);
  bytes.push(Number(rest));
  return Buffer.from(bytes);
}

test('integers: values past 2^31-1 and over-long continuations are refused with HpackError', () => {
  const cur = { value: 0, next: 0 };
  fc.assert(
    fc.property(fc.bigInt({ min: BigInt(MAX_INTEGER) + 1n, max: 2n ** 70n }), fc.integer({ min: 1, max: 8 }), (v, prefix) => {
      const b = rawInteger(v, prefix);
      assert.throws(() => decodeInteger(b, 0, prefix, b.length, cur), HpackError);
    }),
    { numRuns: 300 },
  );
  // 2^31-1 itself is fine with any prefix.
  for (let p = 1; p <= 8; p++) {
    const b = rawInteger(BigInt(MAX_INTEGER), p);
    decodeInteger(b, 0, p, b.length, cur);
    assert.equal(cur.value, MAX_INTEGER);
  }
  // A small value padded with zero continuation octets: 5 are tolerated, 6 are not.
  const five = Buffer.from('1f8080808000', 'hex');
  decodeInteger(five, 0, 5, five.length, cur);
  assert.equal(cur.value, 31);
  const six = Buffer.from('1f808080808000', 'hex');
  assert.throws(() => decodeInteger(six, 0, 5, six.length, cur), /too many continuation/);
  // Truncated.
  assert.throws(() => decodeInteger(Buffer.from('1f80', 'hex'), 0, 5, 2, cur), /truncated/);
  assert.throws(() => decodeInteger(Buffer.alloc(0), 0, 5, 0, cur), /truncated/);
});
