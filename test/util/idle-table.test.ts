import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IdleTable, NEGATIVE_IDLE_TTL_MS, type IdleTableOptions } from '../../src/util/idle-table.js';
import { FakeClock } from '../support/fake-clock.js';

interface Thing {
  name: string;
  negative?: boolean;
  busy?: boolean;
}

function table(options: Partial<IdleTableOptions<string, Thing>> = {}) {
  const clock = new FakeClock();
  const disposed: string[] = [];
  let full = 0;
  const t = new IdleTable<string, Thing>({
    idleTtlMs: 1000,
    isTransient: (v) => v.negative === true,
    inUse: (v) => v.busy === true,
    onFull: () => full++,
    dispose: (_v, key) => disposed.push(key),
    clock,
    ...options,
  });
  const get = (key: string, extra: Partial<Thing> = {}) => t.get(key, () => ({ name: key, ...extra }));
  return { t, clock, disposed, get, full: () => full };
}

test('IdleTable: an entry lives while held and expires an idle TTL after its last holder leaves', () => {
  const { t, clock, disposed, get } = table();
  const a = get('a')!;
  a.acquire();
  a.acquire();
  clock.advance(10_000);
  assert.deepEqual(disposed, [], 'held entries never expire');
  a.release();
  clock.advance(10_000);
  assert.deepEqual(disposed, [], 'one holder left');
  a.release();
  clock.advance(900);
  assert.deepEqual(disposed, [], 'kept for its idle TTL');
  assert.equal(get('a'), a, 'the same entry while kept');
  a.acquire();
  a.release();
  clock.advance(1300);
  assert.deepEqual(disposed, ['a'], 'gone within 1.25 TTLs of the last release');
  assert.equal(t.size, 0);
  assert.equal(clock.running, 0, 'an empty table runs no timer');
});

test('IdleTable: a touch (cache hit) keeps an unheld entry; peek does not', () => {
  const { t, clock, disposed, get } = table();
  get('a');
  for (let i = 0; i < 10; i++) {
    clock.advance(500);
    get('a');
  }
  assert.deepEqual(disposed, []);
  for (let i = 0; i < 10; i++) {
    clock.advance(500);
    t.peek('a');
    [...t.values()];
  }
  assert.deepEqual(disposed, ['a'], 'reads that only peek keep nothing alive');
});

test('IdleTable: negative (transient) entries expire after the negative TTL, capped by the idle TTL', () => {
  const { clock, disposed, get } = table({ idleTtlMs: 60_000 });
  get('neg', { negative: true })!.acquire();
  get('pos')!.acquire();
  get('neg')!.release();
  get('pos')!.release();
  clock.advance(NEGATIVE_IDLE_TTL_MS * 1.25);
  assert.deepEqual(disposed, ['neg']);
  clock.advance(60_000 * 1.25);
  assert.deepEqual(disposed, ['neg', 'pos']);

  const short = table({ idleTtlMs: 100, transientIdleTtlMs: 10_000 });
  short.get('neg', { negative: true });
  short.clock.advance(125);
  assert.deepEqual(short.disposed, ['neg'], 'the transient TTL never exceeds the idle TTL');
});

test('IdleTable: a zero idle TTL lets go at the last release, and sweeps entries never acquired', () => {
  const { clock, disposed, get } = table({ idleTtlMs: 0 });
  const a = get('a')!;
  a.acquire();
  a.release();
  assert.deepEqual(disposed, ['a']);
  get('never');
  clock.advance(1000);
  assert.deepEqual(disposed, ['a', 'never']);
});

test('IdleTable: at the cap, the entry nearest to expiring makes room; with all in use it refuses and says so', () => {
  const { t, clock, disposed, get, full } = table({ maxEntries: 3, idleTtlMs: 60_000 });
  get('old');
  clock.advance(10);
  get('neg', { negative: true });
  clock.advance(10);
  get('recent');
  get('d');
  assert.deepEqual(disposed, ['neg'], 'a negative entry expires first, so it goes first');
  assert.equal(full(), 1);
  get('old');
  get('e');
  assert.deepEqual(disposed, ['neg', 'recent'], 'old was just used: recent is now the idlest');
  for (const key of ['old', 'd', 'e']) get(key)!.acquire();
  assert.equal(get('f'), undefined, 'all held: refused');
  assert.equal(full(), 3);
  assert.equal(t.size, 3);
  get('d')!.release();
  assert.notEqual(get('f'), undefined, 'room again once one is let go');
  assert.deepEqual(disposed, ['neg', 'recent', 'd']);
});

test('IdleTable: getAgain asks as get does but does not report the table full (a refused key asking again is no new refusal)', () => {
  const { t, disposed, get, full } = table({ maxEntries: 1 });
  get('held')!.acquire();
  assert.equal(get('refused'), undefined);
  assert.equal(full(), 1);
  const again = () => t.getAgain('refused', () => ({ name: 'refused' }));
  for (let i = 0; i < 3; i++) assert.equal(again(), undefined, 'still full: refused');
  assert.equal(full(), 1, 'asking again is not counted');
  get('held')!.release();
  const entry = again();
  assert.equal(entry?.value.name, 'refused', 'made once there is room');
  assert.deepEqual(disposed, ['held'], 'room made as get makes it');
  assert.equal(again(), entry, 'then found like any key');
  assert.equal(full(), 1);
});

test('IdleTable: inUse entries (streams in flight) neither expire nor make room', () => {
  const { t, clock, disposed, get } = table({ maxEntries: 1, idleTtlMs: 100 });
  const busy = get('busy', { busy: true })!;
  clock.advance(1000);
  assert.deepEqual(disposed, []);
  assert.equal(get('other'), undefined);
  busy.value.busy = false;
  clock.advance(150);
  assert.deepEqual(disposed, ['busy']);
  assert.equal(t.size, 0);
});

test('IdleTable: an entry used again after it was dropped lives for its holders only; close drops all', () => {
  const { t, disposed, get } = table();
  const a = get('a')!;
  a.acquire();
  t.close();
  assert.deepEqual(disposed, ['a']);
  a.release();
  assert.deepEqual(disposed, ['a', 'a'], 'released outside the table: let go again (dispose is idempotent)');
  assert.throws(() => get('b'), /closed/);
});

test('IdleTable: at the cap, a flood of new keys costs each eviction a bounded look, not a scan of the table', () => {
  let looks = 0;
  const { t, disposed, get } = table({
    maxEntries: 10_000,
    idleTtlMs: 60_000,
    inUse: (v) => {
      looks++;
      return v.busy === true;
    },
  });
  // A table full of busy entries (calls in flight) and idle ones behind them.
  for (let i = 0; i < 100; i++) get(`busy-${i}`, { busy: true });
  for (let i = 0; i < 9_900; i++) get(`idle-${i}`);
  looks = 0;
  for (let i = 0; i < 1_000; i++) assert.notEqual(get(`new-${i}`), undefined);
  assert.equal(t.size, 10_000);
  assert.equal(disposed.length, 1_000);
  assert.ok(disposed.every((k) => k.startsWith('idle-')), 'only idle entries made room');
  // Before: every eviction asked about all 10,000 entries (10,000,000 looks).
  assert.ok(looks < 1_000 * 20 + 200, `${looks} looks for 1,000 evictions`);
});

test('IdleTable: with every entry in use, refusing a flood of new keys costs each a bounded look; an idle entry deep in the table is still found', () => {
  let looks = 0;
  const { t, disposed, get, full } = table({
    maxEntries: 10_000,
    idleTtlMs: 60_000,
    inUse: (v) => {
      looks++;
      return v.busy === true;
    },
  });
  for (let i = 0; i < 10_000; i++) get(`busy-${i}`, { busy: true });
  looks = 0;
  for (let i = 0; i < 1_000; i++) assert.equal(get(`flood-${i}`), undefined, 'all in use: refused');
  assert.equal(full(), 1_000);
  // Before: each refusal asked about all 10,000 entries and moved each to the back (10,000,000 looks).
  assert.ok(looks <= 1_000 * 600, `${looks} looks for 1,000 refusals`);
  // One entry stops being in use, wherever the hand is: new keys reach it within a few tries and it makes room.
  const quiet = t.peek('busy-7777')!;
  quiet.value.busy = false;
  let made: unknown;
  for (let i = 0; i < 100 && made === undefined; i++) made = get(`late-${i}`);
  assert.notEqual(made, undefined, 'the idle entry was found');
  assert.deepEqual(disposed, ['busy-7777']);
});

test('IdleTable: entries used since the last sweep at the front do not make the eviction drop a used one while idle ones wait behind them', () => {
  const { disposed, get } = table({ maxEntries: 1_000, idleTtlMs: 60_000 });
  for (let i = 0; i < 300; i++) get(`hot-${i}`);
  for (let i = 0; i < 700; i++) get(`cold-${i}`);
  for (let i = 0; i < 300; i++) get(`hot-${i}`); // used again: hot
  assert.notEqual(get('new'), undefined);
  assert.deepEqual(disposed, ['cold-0']);
});
