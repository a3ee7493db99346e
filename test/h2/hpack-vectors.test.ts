// RFC 7541 Appendix C, every example: the decoder against the appendix's hex dumps, and the
// encoder, configured as the appendix is, producing exactly those bytes. The hex is the
// appendix's "Hex dump of encoded data", line for line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DECODE_OK,
  FIELD_NEVER_INDEXED,
  FIELD_NO_INDEX,
  HeaderList,
  HpackDecoder,
  HpackEncoder,
  decodeInteger,
  encodeInteger,
  type FieldInput,
  type HuffmanPolicy,
} from '../../src/h2/hpack/index.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

test('C.1 integer representation: 10 and 1337 with a 5-bit prefix, 42 at an octet boundary', () => {
  const out = Buffer.alloc(8);
  const cur = { value: 0, next: 0 };
  const cases: [number, number, string][] = [
    [10, 5, '0a'], // C.1.1
    [1337, 5, '1f9a0a'], // C.1.2
    [42, 8, '2a'], // C.1.3
  ];
  for (const [value, prefix, bytes] of cases) {
    const end = encodeInteger(value, prefix, 0, out, 0);
    assert.equal(out.subarray(0, end).toString('hex'), bytes);
    // The bits above the prefix belong to the representation: decoding must ignore them.
    const withFlags = hex(bytes);
    if (prefix < 8) withFlags[0] |= 0xe0;
    decodeInteger(withFlags, 0, prefix, withFlags.length, cur);
    assert.deepEqual([cur.value, cur.next], [value, withFlags.length]);
  }
});

interface Step {
  name: string;
  hex: string;
  fields: [string, string][];
  table: [string, string][];
  size: number;
  flags?: number[];
}

function runDecode(steps: Step[], tableSize = 4096): void {
  const dec = new HpackDecoder({ maxTableSize: tableSize, maxHeaderListSize: Infinity });
  const list = new HeaderList();
  for (const s of steps) {
    list.reset();
    assert.equal(dec.decode(hex(s.hex), list), DECODE_OK, s.name);
    assert.deepEqual(list.toArray(), s.fields, `${s.name} fields`);
    if (s.flags) assert.deepEqual(list.flags.slice(0, list.length), s.flags, `${s.name} flags`);
    assert.deepEqual(dec.table.entries(), s.table, `${s.name} dynamic table`);
    assert.equal(dec.table.size, s.size, `${s.name} table size`);
  }
}

function runEncode(steps: Step[], huffman: HuffmanPolicy, tableSize = 4096, flags = 0): void {
  const enc = new HpackEncoder({ tableSize, maxTableSize: tableSize, huffman });
  // The same blocks written field by field into the encoder's own buffer (begin, onField, end:
  // how the connection encodes, with no copy) by a second encoder kept in step.
  const inPlace = new HpackEncoder({ tableSize, maxTableSize: tableSize, huffman });
  for (const s of steps) {
    const fields: FieldInput[] = s.fields.map(([n, v]) => [n, v, flags]);
    assert.equal(enc.encode(fields).toString('hex'), hex(s.hex).toString('hex'), s.name);
    inPlace.begin();
    for (const [n, v] of s.fields) inPlace.onField(n, v, flags);
    assert.equal(inPlace.output.subarray(0, inPlace.end()).toString('hex'), hex(s.hex).toString('hex'), `${s.name} in place`);
    assert.deepEqual(enc.table.entries(), s.table, `${s.name} encoder table`);
    assert.equal(enc.table.size, s.size, `${s.name} encoder table size`);
  }
}

test('C.2 header field representations, decoded (each on a fresh decoder)', () => {
  runDecode([{ name: 'C.2.1', hex: '400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572', fields: [['custom-key', 'custom-header']], table: [['custom-key', 'custom-header']], size: 55, flags: [0] }]);
  runDecode([{ name: 'C.2.2', hex: '040c 2f73 616d 706c 652f 7061 7468', fields: [[':path', '/sample/path']], table: [], size: 0, flags: [0] }]);
  runDecode([{ name: 'C.2.3', hex: '1008 7061 7373 776f 7264 0673 6563 7265 74', fields: [['password', 'secret']], table: [], size: 0, flags: [FIELD_NEVER_INDEXED] }]);
  runDecode([{ name: 'C.2.4', hex: '82', fields: [[':method', 'GET']], table: [], size: 0, flags: [0] }]);
});

test('C.2 header field representations, encoded with the same representation', () => {
  runEncode([{ name: 'C.2.1', hex: '400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572', fields: [['custom-key', 'custom-header']], table: [['custom-key', 'custom-header']], size: 55 }], 'never');
  runEncode([{ name: 'C.2.2', hex: '040c 2f73 616d 706c 652f 7061 7468', fields: [[':path', '/sample/path']], table: [], size: 0 }], 'never', 4096, FIELD_NO_INDEX);
  runEncode([{ name: 'C.2.3', hex: '1008 7061 7373 776f 7264 0673 6563 7265 74', fields: [['password', 'secret']], table: [], size: 0 }], 'never', 4096, FIELD_NEVER_INDEXED);
  runEncode([{ name: 'C.2.4', hex: '82', fields: [[':method', 'GET']], table: [], size: 0 }], 'never');
});

const authority: [string, string] = [':authority', 'www.example.com'];
const noCache: [string, string] = ['cache-control', 'no-cache'];
const custom: [string, string] = ['custom-key', 'custom-value'];
const req1: [string, string][] = [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], authority];
const req2: [string, string][] = [...req1, noCache];
const req3: [string, string][] = [[':method', 'GET'], [':scheme', 'https'], [':path', '/index.html'], authority, custom];

const C3: Step[] = [
  { name: 'C.3.1', hex: '8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d', fields: req1, table: [authority], size: 57 },
  { name: 'C.3.2', hex: '8286 84be 5808 6e6f 2d63 6163 6865', fields: req2, table: [noCache, authority], size: 110 },
  { name: 'C.3.3', hex: '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65', fields: req3, table: [custom, noCache, authority], size: 164 },
];
const C4: Step[] = [
  { name: 'C.4.1', hex: '8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff', fields: req1, table: [authority], size: 57 },
  { name: 'C.4.2', hex: '8286 84be 5886 a8eb 1064 9cbf', fields: req2, table: [noCache, authority], size: 110 },
  { name: 'C.4.3', hex: '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf', fields: req3, table: [custom, noCache, authority], size: 164 },
];

const st302: [string, string] = [':status', '302'];
const st307: [string, string] = [':status', '307'];
const priv: [string, string] = ['cache-control', 'private'];
const date21: [string, string] = ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'];
const date22: [string, string] = ['date', 'Mon, 21 Oct 2013 20:13:22 GMT'];
const loc: [string, string] = ['location', 'https://www.example.com'];
const gzip: [string, string] = ['content-encoding', 'gzip'];
const cookie: [string, string] = ['set-cookie', 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1'];
const res1 = [st302, priv, date21, loc];
const res2 = [st307, priv, date21, loc];
const res3: [string, string][] = [[':status', '200'], priv, date22, loc, gzip, cookie];

const C5: Step[] = [
  {
    name: 'C.5.1',
    hex: `4803 3330 3258 0770 7269 7661 7465 611d
          4d6f 6e2c 2032 3120 4f63 7420 3230 3133
          2032 303a 3133 3a32 3120 474d 546e 1768
          7474 7073 3a2f 2f77 7777 2e65 7861 6d70
          6c65 2e63 6f6d`,
    fields: res1,
    table: [loc, date21, priv, st302],
    size: 222,
  },
  { name: 'C.5.2', hex: '4803 3330 37c1 c0bf', fields: res2, table: [st307, loc, date21, priv], size: 222 },
  {
    name: 'C.5.3',
    hex: `88c1 611d 4d6f 6e2c 2032 3120 4f63 7420
          3230 3133 2032 303a 3133 3a32 3220 474d
          54c0 5a04 677a 6970 7738 666f 6f3d 4153
          444a 4b48 514b 425a 584f 5157 454f 5049
          5541 5851 5745 4f49 553b 206d 6178 2d61
          6765 3d33 3630 303b 2076 6572 7369 6f6e
          3d31`,
    fields: res3,
    table: [cookie, gzip, date22],
    size: 215,
  },
];
const C6: Step[] = [
  {
    name: 'C.6.1',
    hex: `4882 6402 5885 aec3 771a 4b61 96d0 7abe
          9410 54d4 44a8 2005 9504 0b81 66e0 82a6
          2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8
          e9ae 82ae 43d3`,
    fields: res1,
    table: [loc, date21, priv, st302],
    size: 222,
  },
  { name: 'C.6.2', hex: '4883 640e ffc1 c0bf', fields: res2, table: [st307, loc, date21, priv], size: 222 },
  {
    name: 'C.6.3',
    hex: `88c1 6196 d07a be94 1054 d444 a820 0595
          040b 8166 e084 a62d 1bff c05a 839b d9ab
          77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b
          3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
          9587 3160 65c0 03ed 4ee5 b106 3d50 07`,
    fields: res3,
    table: [cookie, gzip, date22],
    size: 215,
  },
];

test('C.3 requests without Huffman: one decoder across the three, table after each', () => runDecode(C3));
test('C.3 requests without Huffman: the encoder produces the same bytes', () => runEncode(C3, 'never'));
test('C.4 requests with Huffman: decoded', () => runDecode(C4));
// C.4 and C.6 Huffman-code every literal; 'auto' (only when strictly shorter) agrees for C.4, but
// C.6.2's "307" is 3 octets either way, so the appendix's configuration is 'always'.
test('C.4 requests with Huffman: the encoder produces the same bytes', () => {
  runEncode(C4, 'always');
  runEncode(C4, 'auto');
});
test('C.5 responses without Huffman, table size 256 with evictions: decoded', () => runDecode(C5, 256));
test('C.5 responses without Huffman: the encoder produces the same bytes', () => runEncode(C5, 'never', 256));
test('C.6 responses with Huffman, table size 256: decoded', () => runDecode(C6, 256));
test('C.6 responses with Huffman: the encoder produces the same bytes', () => runEncode(C6, 'always', 256));
