// Decoder behaviour a proxy depends on: header list limits that refuse a stream without
// losing the connection, errors that are always HpackError, and table size updates (§4.2).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  DECODE_HEADER_LIST_TOO_LARGE,
  DECODE_OK,
  FIELD_NAME_UPPERCASE,
  FIELD_VALUE_FORBIDDEN,
  FIELD_NEVER_INDEXED,
  FIELD_NO_INDEX,
  HeaderList,
  HpackDecoder,
  HpackEncoder,
  HpackError,
  encodeInteger,
  type FieldInput,
  type FieldSink,
} from '../../src/h2/hpack/index.js';

const KiB = 1024;
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function decodeAll(dec: HpackDecoder, block: Uint8Array): { outcome: number; fields: [string, string][]; flags: number[] } {
  const list = new HeaderList();
  const outcome = dec.decode(block, list);
  return { outcome, fields: list.toArray(), flags: list.flags.slice(0, list.length) };
}

function expectHpackError(fn: () => unknown, message: RegExp, offset?: number): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof HpackError, `expected HpackError, got ${String(e)}`);
    assert.match(e.message, message);
    if (offset !== undefined) assert.equal(e.offset, offset);
    assert.equal(e.h2Code, 0x9);
    return true;
  });
}

test('a 70 KiB value under a 64 KiB header list limit refuses the stream; the table stays in step', () => {
  const big = 'v'.repeat(70 * KiB);
  const fields: FieldInput[] = [
    [':method', 'POST'],
    ['x-before', '1'],
    ['x-big', big],
    ['x-after-1', 'a'],
    ['x-after-2', 'b'],
  ];
  const enc = new HpackEncoder();
  const dec = new HpackDecoder({ maxHeaderListSize: 64 * KiB });
  const first = decodeAll(dec, enc.encode(fields));
  assert.equal(first.outcome, DECODE_HEADER_LIST_TOO_LARGE);
  // Fields before the limit are delivered, nothing from the big one on.
  assert.deepEqual(first.fields, [[':method', 'POST'], ['x-before', '1']]);
  assert.ok(dec.lastHeaderListSize > 70 * KiB);
  assert.deepEqual(dec.table.entries(), enc.table.entries());

  // The next block refers to entries inserted after the big field: it must decode as sent.
  const next: FieldInput[] = [[':method', 'POST'], ['x-after-2', 'b'], ['x-after-1', 'a'], ['x-before', '1']];
  const block = enc.encode(next);
  assert.ok(block.length <= 6, `expected indexed references only, got ${block.toString('hex')}`);
  const second = decodeAll(dec, block);
  assert.equal(second.outcome, DECODE_OK);
  assert.deepEqual(second.fields, next.map(([n, v]) => [n, v]));
});

test('an over-limit field that is itself inserted into the table is still inserted, and later references work', () => {
  // Both ends agreed on a table big enough for the 70 KiB entry, so it goes in with incremental indexing.
  const size = 128 * KiB;
  const enc = new HpackEncoder({ tableSize: size, maxTableSize: size });
  const dec = new HpackDecoder({ maxTableSize: size, maxHeaderListSize: 64 * KiB });
  const big = 'w'.repeat(70 * KiB);
  const first = decodeAll(dec, enc.encode([['x-big', big], ['x-small', 's']]));
  assert.equal(first.outcome, DECODE_HEADER_LIST_TOO_LARGE);
  assert.deepEqual(first.fields, []);
  assert.equal(dec.table.length, 2);
  assert.equal(dec.table.size, enc.table.size);

  // A reference to the small entry decodes; one to the big entry is again over the limit,
  // and only that stream is refused.
  const small = decodeAll(dec, enc.encode([['x-small', 's']]));
  assert.deepEqual(small, { outcome: DECODE_OK, fields: [['x-small', 's']], flags: [0] });
  assert.equal(decodeAll(dec, enc.encode([['x-big', big]])).outcome, DECODE_HEADER_LIST_TOO_LARGE);
});

test('the limit counts name + value + 32 per field (RFC 9113 §6.5.2), and an exact fit is fine', () => {
  const fields: FieldInput[] = [['abc', 'defg'], ['h', '']];
  const exact = 3 + 4 + 32 + 1 + 0 + 32;
  const enc = new HpackEncoder();
  const block = enc.encode(fields);
  assert.equal(new HpackDecoder({ maxHeaderListSize: exact }).decode(block, new HeaderList()), DECODE_OK);
  assert.equal(new HpackDecoder({ maxHeaderListSize: exact - 1 }).decode(block, new HeaderList()), DECODE_HEADER_LIST_TOO_LARGE);
});

test('malformed blocks throw HpackError naming the problem and its offset', () => {
  const fresh = (): HpackDecoder => new HpackDecoder();
  const sink = new HeaderList();
  expectHpackError(() => fresh().decode(hex('80'), sink), /index 0/, 0);
  expectHpackError(() => fresh().decode(hex('82be'), sink), /index 62 beyond the 61/, 1);
  expectHpackError(() => fresh().decode(hex('827e00'), sink), /name index 62/, 1); // incremental, name index 62
  expectHpackError(() => fresh().decode(hex('8220'), sink), /size update after a header field/, 1);
  // 3fe21f = size update to 4097 (31 + 0x62 + 0x1f*128).
  expectHpackError(() => fresh().decode(hex('3fe21f'), sink), /4097 exceeds SETTINGS_HEADER_TABLE_SIZE 4096/, 0);
  expectHpackError(() => fresh().decode(hex('4005'), sink), /string length 5 exceeds the 0 octets/, 1);
  expectHpackError(() => fresh().decode(hex('40'), sink), /truncated/, 1);
  expectHpackError(() => fresh().decode(hex('000161'), sink), /truncated/, 3); // value missing after the name 'a'
  // A 2^31-1 length prefix in a 10-octet block: refused before anything is allocated.
  const len = Buffer.alloc(8);
  const n = encodeInteger(2 ** 31 - 1, 7, 0, len, 0);
  expectHpackError(() => fresh().decode(Buffer.concat([hex('04'), len.subarray(0, n), hex('616263')]), sink), /string length 2147483647 exceeds/, 1);
  // Lengths past 2^31-1 are integer overflows.
  expectHpackError(() => fresh().decode(hex('04ffffffffff7f'), sink), /integer/, 1);
  // Huffman errors inside a field name the string's offset.
  expectHpackError(() => fresh().decode(hex('0084ffffffff'), sink), /EOS/, 1);
  expectHpackError(() => fresh().decode(hex('008118'), sink), /padding/, 1);
  // Decoded in place within a larger buffer (a HEADERS frame in its socket chunk): the same errors
  // at the same offsets, counted from the block's start, and nothing read past its end.
  const inPlace = (block: string, before = 'ffff', after = '82'): Buffer => Buffer.concat([hex(before), hex(block), hex(after)]);
  expectHpackError(() => fresh().decode(inPlace('80'), sink, 2, 3), /index 0/, 0);
  expectHpackError(() => fresh().decode(inPlace('82be'), sink, 2, 4), /index 62 beyond the 61/, 1);
  expectHpackError(() => fresh().decode(inPlace('000161'), sink, 2, 5), /truncated/, 3);
  expectHpackError(() => fresh().decode(inPlace('40', 'ffff', '0161'), sink, 2, 3), /truncated/, 1);
  const list = new HeaderList();
  assert.equal(fresh().decode(inPlace('8286', 'be', '80'), list, 1, 3), 0);
  assert.deepEqual(list.toArray(), [[':method', 'GET'], [':scheme', 'http']]);
});

test('never-indexed literals and upper-case names are flagged; a proxy re-encodes never-indexed as such', () => {
  const enc = new HpackEncoder();
  const dec = new HpackDecoder();
  const block = enc.encode([
    ['authorization', 'Bearer x', FIELD_NEVER_INDEXED],
    ['X-Upper', '1'],
    ['x-plain', '2', FIELD_NO_INDEX],
  ]);
  const list = new HeaderList();
  dec.decode(block, list);
  assert.deepEqual(list.flags.slice(0, 3), [FIELD_NEVER_INDEXED, FIELD_NAME_UPPERCASE, 0]);
  // Only X-Upper was indexed; referring to it by index keeps the upper-case flag.
  assert.deepEqual(dec.table.entries(), [['X-Upper', '1']]);
  const again = decodeAll(dec, enc.encode([['X-Upper', '1'], ['X-Upper', '2']]));
  assert.deepEqual(again.flags, [FIELD_NAME_UPPERCASE, FIELD_NAME_UPPERCASE]);

  // Forwarding the list: the never-indexed field goes out as 0001xxxx again (§7.1.3).
  const out = new HpackEncoder().encodeList(list);
  assert.equal(out[0]! & 0xf0, 0x10);
});

test('SETTINGS_HEADER_TABLE_SIZE lowered: the next block must open with a size update within the new limit', () => {
  const dec = new HpackDecoder();
  const enc = new HpackEncoder();
  dec.decode(enc.encode([['x-a', '1']]), new HeaderList());

  // A peer that ignores the change is a connection error.
  const lazy = new HpackDecoder();
  lazy.setMaxTableSize(100);
  expectHpackError(() => lazy.decode(hex('82'), new HeaderList()), /must start with a dynamic table size update to at most 100/, 0);
  // An update that does not go low enough is refused too.
  const high = new HpackDecoder();
  high.setMaxTableSize(100);
  expectHpackError(() => high.decode(hex('3f46'), new HeaderList()), /101 exceeds SETTINGS_HEADER_TABLE_SIZE 100/, 0);

  // Lowered to 0 then raised to 2048 before the next block: the encoder sends 0 then 2048.
  dec.setMaxTableSize(0);
  dec.setMaxTableSize(2048);
  enc.setMaxTableSize(0);
  enc.setMaxTableSize(2048);
  const block = enc.encode([['x-b', '2']]);
  assert.equal(block.subarray(0, 4).toString('hex'), '203fe10f'); // update 0, update 2048
  assert.deepEqual(decodeAll(dec, block).fields, [['x-b', '2']]);
  assert.deepEqual(dec.table.entries(), [['x-b', '2']]); // x-a was evicted by the update to 0
  assert.equal(dec.table.maxSize, 2048);

  // Raising the limit needs no update; a block without one decodes.
  dec.setMaxTableSize(8192);
  enc.setMaxTableSize(8192); // the encoder's own cap (4096 by default) still applies
  const b2 = enc.encode([['x-b', '2']]);
  assert.equal(b2.toString('hex'), '3fe11fbe'); // update to its cap 4096, then the indexed field
  assert.equal(decodeAll(dec, b2).outcome, DECODE_OK);
});

test('fuzz: arbitrary octets never throw anything but HpackError, nor deliver more than the limit', () => {
  const limit = 300;
  // Counts what it is given, so the property checks what the caller actually sees.
  class Counter implements FieldSink {
    size = 0;
    onField(name: string, value: string): void {
      this.size += name.length + value.length + 32;
    }
  }
  // Raw noise, and valid blocks with a few octets changed (so the decoder gets deep before failing).
  const seed = new HpackEncoder({ huffman: 'auto' });
  const valid = [
    seed.encode([[':method', 'POST'], [':path', '/pkg.Service/Method'], ['content-type', 'application/grpc'], ['te', 'trailers'], ['grpc-timeout', '1S']]),
    seed.encode([[':path', '/pkg.Service/Other'], ['x-long', 'y'.repeat(400)], ['authorization', 'secret', FIELD_NEVER_INDEXED]]),
  ];
  const mutated = fc
    .tuple(fc.constantFrom(...valid), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }))
    .map(([b, edits]) => {
      const copy = Buffer.from(b);
      for (const [at, v] of edits) copy[at % copy.length] = v;
      return copy;
    });
  const input = fc.oneof(fc.uint8Array({ maxLength: 200 }), mutated);
  fc.assert(
    fc.property(fc.array(input, { minLength: 1, maxLength: 4 }), (blocks) => {
      const dec = new HpackDecoder({ maxHeaderListSize: limit });
      for (const block of blocks) {
        const sink = new Counter();
        try {
          dec.decode(block, sink);
        } catch (e) {
          if (!(e instanceof HpackError)) throw e;
          return; // a connection error: the context is dead after it
        }
        assert.ok(sink.size <= limit, `delivered ${sink.size} > ${limit}`);
      }
    }),
    { numRuns: 500 },
  );
});

test('fuzz: encode then decode gives the same fields across blocks, with random table size changes', () => {
  // Names from the static table, a few custom ones, and arbitrary octets, so every
  // representation (indexed, name-indexed, literal; static and dynamic) gets exercised.
  const octets = fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b).toString('latin1'));
  const name = fc.oneof(fc.constantFrom(':path', ':authority', 'content-type', 'cookie', 'x-id', 'grpc-status', 'Mixed-Case'), octets);
  const value = fc.oneof(fc.constantFrom('', '/', 'application/grpc', '0', 'gzip, deflate', 'a\r\nb'), octets);
  const flags = fc.constantFrom(0, 0, 0, FIELD_NO_INDEX, FIELD_NEVER_INDEXED);
  const field = fc.tuple(name, value, flags);
  const step = fc.record({
    fields: fc.array(field, { maxLength: 12 }),
    // Sometimes the decoder's SETTINGS_HEADER_TABLE_SIZE changes (and is acknowledged) before the block.
    resize: fc.option(fc.array(fc.integer({ min: 0, max: 5000 }), { minLength: 1, maxLength: 3 }), { freq: 3 }),
  });
  fc.assert(
    fc.property(fc.array(step, { minLength: 1, maxLength: 8 }), fc.constantFrom<'auto' | 'never' | 'always'>('auto', 'never', 'always'), (steps, huffman) => {
      const enc = new HpackEncoder({ huffman, maxTableSize: 8192 });
      const dec = new HpackDecoder({ maxHeaderListSize: Infinity });
      const list = new HeaderList();
      for (const { fields, resize } of steps) {
        for (const limit of resize ?? []) {
          dec.setMaxTableSize(limit);
          enc.setMaxTableSize(limit);
        }
        list.reset();
        assert.equal(dec.decode(enc.encode(fields), list), DECODE_OK);
        assert.deepEqual(list.toArray(), fields.map(([n, v]) => [n, v]));
        for (let i = 0; i < fields.length; i++) {
          assert.equal(list.flags[i]! & FIELD_NEVER_INDEXED, fields[i]![2] & FIELD_NEVER_INDEXED);
          assert.equal((list.flags[i]! & FIELD_NAME_UPPERCASE) !== 0, /[A-Z]/.test(fields[i]![0]));
          assert.equal((list.flags[i]! & FIELD_VALUE_FORBIDDEN) !== 0, /[\0\r\n]/.test(fields[i]![1]));
        }
        assert.deepEqual(dec.table.entries(), enc.table.entries());
        assert.equal(dec.table.size, enc.table.size);
        assert.ok(dec.table.size <= dec.maxTableSize);
      }
    }),
    { numRuns: 300 },
  );
});

test('an incrementally indexed field larger than the table empties it and is still delivered (§4.4)', () => {
  const dec = new HpackDecoder({ maxTableSize: 64 });
  assert.deepEqual(decodeAll(dec, hex('4001610162')).fields, [['a', 'b']]);
  assert.deepEqual(dec.table.entries(), [['a', 'b']]);
  const name = 'n'.repeat(20);
  const value = 'v'.repeat(20); // 20 + 20 + 32 > 64
  const block = Buffer.concat([hex('4014'), Buffer.from(name), hex('14'), Buffer.from(value)]);
  // A plain Uint8Array (not a Buffer) is accepted as well.
  assert.deepEqual(decodeAll(dec, new Uint8Array(block)).fields, [[name, value]]);
  assert.deepEqual(dec.table.entries(), []);
  assert.equal(dec.table.size, 0);
});

test('per-call values (grpc-timeout by default) are indexed once for the name, then not, so they do not churn the table', () => {
  const enc = new HpackEncoder();
  const dec = new HpackDecoder();
  dec.decode(enc.encode([[':path', '/a.B/C'], ['grpc-timeout', '1m']]), new HeaderList());
  assert.deepEqual(enc.table.entries(), [['grpc-timeout', '1m'], [':path', '/a.B/C']]);
  const later = enc.encode([[':path', '/a.B/C'], ['grpc-timeout', '2m']]);
  // :path by index 63; grpc-timeout as a literal without indexing (0000xxxx) naming index 62.
  assert.equal(later.subarray(0, 3).toString('hex'), 'bf0f2f');
  assert.deepEqual(enc.table.entries(), [['grpc-timeout', '1m'], [':path', '/a.B/C']]);
  assert.deepEqual(decodeAll(dec, later).fields, [[':path', '/a.B/C'], ['grpc-timeout', '2m']]);

  const custom = new HpackEncoder({ noIndexNames: [] });
  custom.encode([['grpc-timeout', '1m']]);
  custom.encode([['grpc-timeout', '2m']]);
  assert.deepEqual(custom.table.entries(), [['grpc-timeout', '2m'], ['grpc-timeout', '1m']]);
});
