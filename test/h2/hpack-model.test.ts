// Property tests of the HPACK decoder (RFC 7541) against a model written here from the RFC: blocks
// built representation by representation (every literal kind, indexed and literal names, Huffman or
// not, dynamic table size updates, invalid indices, truncation) must decode to exactly what the model
// says, or throw HpackError exactly when the model says the block is malformed. Along the way: the
// dynamic table never exceeds its maximum, the maximum never exceeds our SETTINGS_HEADER_TABLE_SIZE,
// and no caller ever sees more than maxHeaderListSize. hpack-decoder.test.ts fuzzes raw octets and
// the encoder's own choices; this file covers the representations an encoder other than ours may pick,
// and a proxy hop (decode, re-encode, decode) that must keep never-indexed fields never indexed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  DECODE_HEADER_LIST_TOO_LARGE, DECODE_OK, FIELD_NAME_UPPERCASE, FIELD_NEVER_INDEXED, FIELD_NO_INDEX, FIELD_VALUE_FORBIDDEN,
  HeaderList, HpackDecoder, HpackEncoder, HpackError, STATIC_NAMES, STATIC_TABLE_LENGTH, STATIC_VALUES,
  huffmanEncode, type FieldInput,
} from '../../src/h2/hpack/index.js';

// ------------------------------------------------------------------ the model (RFC 7541)

/** §5.1 integer with an N-bit prefix, written independently of src/h2/hpack/integer.ts. */
function int(value: number, prefixBits: number, firstByteHigh: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [firstByteHigh | value];
  const out = [firstByteHigh | max];
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest % 128) | 0x80);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return out;
}

/** §5.2 string literal. */
function str(s: string, huffman: boolean): number[] {
  const raw = Buffer.from(s, 'latin1');
  const octets = huffman ? huffmanEncode(raw) : raw;
  return [...int(octets.length, 7, huffman ? 0x80 : 0), ...octets];
}

type Rep =
  | { t: 'update'; size: number }
  | { t: 'indexed'; index: number }
  | { t: 'literal'; kind: 'incremental' | 'none' | 'never'; nameIndex: number; name: string; value: string; hName: boolean; hValue: boolean };

function encodeRep(r: Rep): number[] {
  switch (r.t) {
    case 'update':
      return int(r.size, 5, 0x20);
    case 'indexed':
      return int(r.index, 7, 0x80);
    case 'literal': {
      const [bits, high] = r.kind === 'incremental' ? [6, 0x40] : r.kind === 'never' ? [4, 0x10] : [4, 0x00];
      const head = int(r.nameIndex, bits, high);
      return [...head, ...(r.nameIndex === 0 ? str(r.name, r.hName) : []), ...str(r.value, r.hValue)];
    }
  }
}

class ModelTable {
  entries: [string, string][] = []; // newest first
  constructor(public max: number) {}
  get size(): number {
    return this.entries.reduce((n, [a, b]) => n + a.length + b.length + 32, 0);
  }
  setMax(max: number): void {
    this.max = max;
    while (this.size > this.max) this.entries.pop();
  }
  add(name: string, value: string): void {
    if (name.length + value.length + 32 > this.max) {
      this.entries = [];
      return;
    }
    this.entries.unshift([name, value]);
    while (this.size > this.max) this.entries.pop();
  }
}

interface Expected {
  error: boolean;
  fields: [string, string][];
  flags: number[];
  listSize: number;
  tooLarge: boolean;
}

/** What a decoder must do with `reps` (cut at representation `cut`, mid-way if `partial`). */
function model(table: ModelTable, st: { limit: number; pendingMin: number }, reps: Rep[], maxList: number): Expected {
  const out: Expected = { error: false, fields: [], flags: [], listSize: 0, tooLarge: false };
  let seenField = false;
  let minUpdate = Infinity;
  let checkedPending = false;
  const fail = (): Expected => ({ ...out, error: true });
  for (const r of reps) {
    if (r.t === 'update') {
      if (seenField) return fail();
      if (r.size > st.limit) return fail();
      table.setMax(r.size);
      minUpdate = Math.min(minUpdate, r.size);
      continue;
    }
    if (!checkedPending) {
      checkedPending = true;
      if (st.pendingMin >= 0 && minUpdate > st.pendingMin) return fail();
      st.pendingMin = -1;
    }
    seenField = true;
    let name: string;
    let value: string;
    let never = false;
    if (r.t === 'indexed') {
      if (r.index === 0) return fail();
      if (r.index <= STATIC_TABLE_LENGTH) [name, value] = [STATIC_NAMES[r.index]!, STATIC_VALUES[r.index]!];
      else {
        const e = table.entries[r.index - STATIC_TABLE_LENGTH - 1];
        if (e === undefined) return fail();
        [name, value] = e;
      }
    } else {
      if (r.nameIndex === 0) name = r.name;
      else if (r.nameIndex <= STATIC_TABLE_LENGTH) name = STATIC_NAMES[r.nameIndex]!;
      else {
        const e = table.entries[r.nameIndex - STATIC_TABLE_LENGTH - 1];
        if (e === undefined) return fail();
        name = e[0];
      }
      value = r.value;
      never = r.kind === 'never';
      if (r.kind === 'incremental') table.add(name, value);
    }
    out.listSize += name.length + value.length + 32;
    if (!out.tooLarge) {
      if (out.listSize > maxList) out.tooLarge = true;
      else {
        out.fields.push([name, value]);
        out.flags.push((never ? FIELD_NEVER_INDEXED : 0) | (/[A-Z]/.test(name) ? FIELD_NAME_UPPERCASE : 0) | (/[\0\r\n]/.test(value) ? FIELD_VALUE_FORBIDDEN : 0));
      }
    }
  }
  if (!checkedPending && st.pendingMin >= 0) {
    // A block of size updates only still has to satisfy the pending minimum.
    if (minUpdate > st.pendingMin) return fail();
    st.pendingMin = -1;
  }
  return out;
}

// ------------------------------------------------------------------ generators

const text = fc.oneof(
  fc.constantFrom('', 'a', 'grpc-status', 'application/grpc', 'X-Mixed', ':path', 'te', 'trailers', 'a\r\nb', '\0'),
  fc.uint8Array({ maxLength: 48 }).map((b) => Buffer.from(b).toString('latin1')),
  fc.integer({ min: 100, max: 900 }).map((n) => 'v'.repeat(n)), // big enough to evict and to cross the list limit
);

/** An index: mostly valid for a table of up to `dyn` entries, sometimes past the end, sometimes 0. */
const index = (dyn: number, zeroOk: boolean) =>
  fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min: 1, max: STATIC_TABLE_LENGTH + dyn }) },
    { weight: 1, arbitrary: fc.integer({ min: STATIC_TABLE_LENGTH + dyn + 1, max: STATIC_TABLE_LENGTH + 200 }) },
    { weight: 1, arbitrary: fc.constant(zeroOk ? 0 : 1 << 20) },
  );

const literal: fc.Arbitrary<Rep> = fc.record({
  t: fc.constant('literal' as const),
  kind: fc.constantFrom('incremental' as const, 'incremental' as const, 'none' as const, 'never' as const),
  nameIndex: fc.oneof(fc.constant(0), fc.constant(0), index(6, true)),
  name: text,
  value: text,
  hName: fc.boolean(),
  hValue: fc.boolean(),
});
const field: fc.Arbitrary<Rep> = fc.oneof(
  { weight: 3, arbitrary: literal },
  { weight: 2, arbitrary: index(6, false).map((i): Rep => ({ t: 'indexed', index: i })) },
  { weight: 1, arbitrary: fc.constant<Rep>({ t: 'indexed', index: 0 }) },
);
const update = fc.integer({ min: 0, max: 4500 }).map((size): Rep => ({ t: 'update', size }));

const blockArb = fc.record({
  updates: fc.array(update, { maxLength: 2 }),
  fields: fc.array(field, { maxLength: 10 }),
  /** Rarely, a size update after a field (a COMPRESSION_ERROR). */
  lateUpdate: fc.option(fc.tuple(fc.nat(), update), { freq: 12 }),
  /** Rarely, the block is cut short inside (not at the end of) a representation. */
  cut: fc.option(fc.tuple(fc.nat(), fc.nat()), { freq: 10 }),
  /** Sometimes our SETTINGS_HEADER_TABLE_SIZE changes (and is acknowledged) before the block. */
  setLimit: fc.option(fc.integer({ min: 0, max: 4096 }), { freq: 4 }),
});

// ------------------------------------------------------------------ properties

test('model: structured blocks decode exactly as RFC 7541 says, or throw HpackError exactly when malformed; tables and lists stay bounded', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 4096 }),
      fc.integer({ min: 0, max: 3000 }),
      fc.array(blockArb, { minLength: 1, maxLength: 8 }),
      (tableSize, maxList, blocks) => {
        const dec = new HpackDecoder({ maxTableSize: tableSize, maxHeaderListSize: maxList });
        const table = new ModelTable(tableSize);
        const st = { limit: tableSize, pendingMin: -1 };
        for (const b of blocks) {
          if (b.setLimit !== null) {
            dec.setMaxTableSize(b.setLimit);
            st.limit = b.setLimit;
            if (b.setLimit < table.max) st.pendingMin = st.pendingMin < 0 ? b.setLimit : Math.min(st.pendingMin, b.setLimit);
          }
          const reps = [...b.updates, ...b.fields];
          if (b.lateUpdate !== null && b.fields.length > 0) reps.splice(b.updates.length + 1 + (b.lateUpdate[0] % b.fields.length), 0, b.lateUpdate[1]);
          const encoded = reps.map(encodeRep);
          let bytes = encoded.flat();
          let modelReps = reps;
          let truncated = false;
          if (b.cut !== null && encoded.length > 0) {
            const at = b.cut[0] % encoded.length;
            const rep = encoded[at]!;
            if (rep.length > 1) {
              const keep = 1 + (b.cut[1] % (rep.length - 1)); // 1..len-1 octets of that representation
              bytes = [...encoded.slice(0, at).flat(), ...rep.slice(0, keep)];
              modelReps = reps.slice(0, at);
              truncated = true;
            }
          }
          const want = model(table, st, modelReps, maxList);
          const list = new HeaderList();
          let outcome: number;
          try {
            outcome = dec.decode(Buffer.from(bytes), list);
          } catch (e) {
            assert.ok(e instanceof HpackError, `not an HpackError: ${String(e)}`);
            assert.ok(want.error || truncated, `unexpected HpackError: ${(e as Error).message}`);
            return; // a connection error: the context is dead
          }
          assert.ok(!want.error && !truncated, `a malformed block decoded: ${Buffer.from(bytes).toString('hex')}`);
          assert.equal(outcome, want.tooLarge ? DECODE_HEADER_LIST_TOO_LARGE : DECODE_OK);
          assert.deepEqual(list.toArray(), want.fields);
          assert.deepEqual(list.flags.slice(0, list.length), want.flags);
          assert.equal(dec.lastHeaderListSize, want.listSize);
          const delivered = want.fields.reduce((n, [a, v]) => n + a.length + v.length + 32, 0);
          assert.ok(delivered <= maxList);
          // The tables agree, and stay within the limits (RFC 7541 §4.2, §4.3).
          assert.deepEqual(dec.table.entries(), table.entries);
          assert.equal(dec.table.size, table.size);
          assert.ok(dec.table.size <= dec.table.maxSize, `table ${dec.table.size} > max ${dec.table.maxSize}`);
          assert.ok(dec.table.maxSize <= Math.max(st.limit, tableSize), `max ${dec.table.maxSize} > limit`);
        }
      },
    ),
    { numRuns: 400 },
  );
});

test('fuzz: arbitrary octets on small tables never throw anything but HpackError, and never grow the table past its maximum or our limit', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 512 }),
      fc.array(fc.oneof(fc.uint8Array({ maxLength: 120 }), blockArb.map((b) => Uint8Array.from([...b.updates, ...b.fields].flatMap(encodeRep)))), { minLength: 1, maxLength: 6 }),
      (limit, blocks) => {
        const dec = new HpackDecoder({ maxTableSize: limit, maxHeaderListSize: 256 });
        for (const block of blocks) {
          const list = new HeaderList();
          try {
            dec.decode(block, list);
          } catch (e) {
            if (!(e instanceof HpackError)) throw e;
            assert.equal(e.h2Code, 0x9); // COMPRESSION_ERROR
          }
          assert.ok(dec.table.size <= dec.table.maxSize && dec.table.maxSize <= limit, `table ${dec.table.size}/${dec.table.maxSize}, limit ${limit}`);
          let n = 0;
          for (const [a, v] of list.toArray()) n += a.length + v.length + 32;
          assert.ok(n <= 256, `delivered ${n}`);
        }
      },
    ),
    { numRuns: 400 },
  );
});

test('a proxy hop (decode, re-encode with the flags it got, decode again) round-trips arbitrary lists, keeps never-indexed fields out of every dynamic table, and follows size updates', () => {
  const octets = fc.uint8Array({ maxLength: 30 }).map((b) => Buffer.from(b).toString('latin1'));
  const fieldIn = fc.tuple(
    fc.oneof(fc.constantFrom(':path', 'authorization', 'cookie', 'x-id', 'grpc-timeout', 'Upper-Name'), octets),
    fc.oneof(fc.constantFrom('', 'secret', '1S'), octets),
    fc.constantFrom(0, 0, FIELD_NO_INDEX, FIELD_NEVER_INDEXED),
  );
  const step = fc.record({
    fields: fc.array(fieldIn, { maxLength: 10 }),
    // SETTINGS_HEADER_TABLE_SIZE changes on either hop, acknowledged before the block.
    first: fc.option(fc.integer({ min: 0, max: 4096 }), { freq: 3 }),
    second: fc.option(fc.integer({ min: 0, max: 4096 }), { freq: 3 }),
  });
  fc.assert(
    fc.property(fc.array(step, { minLength: 1, maxLength: 6 }), (steps) => {
      const client = new HpackEncoder({ huffman: 'auto' });
      const inbound = new HpackDecoder({ maxHeaderListSize: Infinity });
      const upstream = new HpackEncoder({ huffman: 'always' });
      const backend = new HpackDecoder({ maxHeaderListSize: Infinity });
      const neverValues = new Set<string>();
      const indexable = (n: string, v: string) => steps.some((s) => s.fields.some(([fn, fv, fl]) => fn === n && fv === v && fl !== FIELD_NEVER_INDEXED));
      for (const { fields, first, second } of steps) {
        if (first !== null) { inbound.setMaxTableSize(first); client.setMaxTableSize(first); }
        if (second !== null) { backend.setMaxTableSize(second); upstream.setMaxTableSize(second); }
        const hop1 = new HeaderList();
        assert.equal(inbound.decode(client.encode(fields as FieldInput[]), hop1), DECODE_OK);
        // What a proxy forwards: the fields with the never-indexed flag it received (RFC 7541 §7.1.3).
        const forwarded: FieldInput[] = hop1.toArray().map(([n, v], i) => [n, v, hop1.flags[i]! & FIELD_NEVER_INDEXED]);
        const hop2 = new HeaderList();
        assert.equal(backend.decode(upstream.encode(forwarded), hop2), DECODE_OK);
        assert.deepEqual(hop2.toArray(), fields.map(([n, v]) => [n, v]));
        for (let i = 0; i < fields.length; i++) {
          const never = fields[i]![2] === FIELD_NEVER_INDEXED;
          assert.equal((hop2.flags[i]! & FIELD_NEVER_INDEXED) !== 0, never, `field ${i} never-indexed flag`);
          if (never) neverValues.add(`${fields[i]![0]}\u0000${fields[i]![1]}`);
        }
        for (const t of [inbound.table, backend.table]) {
          assert.ok(t.size <= t.maxSize);
          for (const [n, v] of t.entries()) {
            // A never-indexed pair is in a table only if the same pair was also sent indexable.
            if (neverValues.has(`${n}\u0000${v}`)) assert.ok(indexable(n, v), `never-indexed ${n} in a table`);
          }
        }
        assert.deepEqual(inbound.table.entries(), client.table.entries());
        assert.deepEqual(backend.table.entries(), upstream.table.entries());
      }
    }),
    { numRuns: 300 },
  );
});
