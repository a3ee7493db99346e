import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NameTable } from '../../src/namers/name-table.js';
import type { LiveName } from '../../src/namers/live-name.js';
import { NEGATIVE_IDLE_TTL_MS } from '../../src/util/idle-table.js';
import { Path } from '../../src/dtab/path.js';
import { FakeClock } from '../support/fake-clock.js';
import { REFUSED_RETRY_MAX_MS } from '../../src/namers/ask-until-room.js';
import { CreationRate } from '../../src/namers/creation-rate.js';

/** A discovery source that answers at once and counts starts and stops. */
function counting(answer: (sink: LiveName) => void) {
  const counts = { started: 0, stopped: 0 };
  const source = (sink: LiveName) => {
    counts.started++;
    answer(sink);
    return () => void counts.stopped++;
  };
  return { counts, source };
}

const bound = (sink: LiveName) => sink.update('bound', [{ host: '10.0.0.1', port: 80, weight: 1, meta: {} }]);

test('LiveName in a NameTable: discovery starts with the first observer and stops an idle TTL after the last (no sleeps)', () => {
  const clock = new FakeClock();
  const names = new NameTable({ idleTtlMs: 30_000, clock });
  const { counts, source } = counting(bound);
  const name = names.get('a', Path.of('a'), source);
  assert.equal(counts.started, 0, 'a lookup alone starts nothing');
  const first = name.lookup(Path.empty).observe(() => {});
  const second = name.addr.observe(() => {});
  assert.deepEqual(counts, { started: 1, stopped: 0 });
  first.close();
  second.close();
  clock.advance(29_000);
  assert.equal(counts.stopped, 0, 'kept warm for its idle TTL');
  assert.equal(names.get('a', Path.of('a'), source), name, 'the same name while kept');
  const again = name.lookup(Path.of('residual')).observe(() => {});
  clock.advance(60_000);
  assert.deepEqual(counts, { started: 1, stopped: 0 }, 'used again: not restarted, not stopped');
  again.close();
  clock.advance(30_000 * 1.25);
  assert.deepEqual(counts, { started: 1, stopped: 1 });
  assert.equal(names.size, 0);
});

test('LiveName in a NameTable: a Neg name stops after the negative TTL', () => {
  const clock = new FakeClock();
  const names = new NameTable({ idleTtlMs: 600_000, clock });
  const { counts, source } = counting((sink) => sink.update('neg'));
  const o = names.get('nx', Path.of('nx'), source).lookup(Path.empty).observe(() => {});
  o.close();
  clock.advance(NEGATIVE_IDLE_TTL_MS * 1.25);
  assert.deepEqual(counts, { started: 1, stopped: 1 });
});

test('NameTable: full of names in use, a new name is a failed address set that is not kept', () => {
  const clock = new FakeClock();
  let full = 0;
  const names = new NameTable({ idleTtlMs: 1000, maxNames: 2, onFull: () => full++, refusal: (key) => `no room for ${key}`, clock });
  const held = ['a', 'b'].map((k) => names.get(k, Path.of(k), counting(bound).source).addr.observe(() => {}));
  const refused = names.get('c', Path.of('c'), counting(bound).source);
  const seen = refused.addr.observe(() => {});
  assert.deepEqual(refused.addr.sample, { type: 'failed', cause: 'no room for c' });
  assert.equal(names.size, 2);
  assert.equal(full, 1);
  seen.close();
  held[0]!.close();
  const made = names.get('c', Path.of('c'), counting(bound).source);
  made.addr.observe(() => {}).close();
  assert.equal(names.size, 2, 'the idle name made room');
  assert.equal(full, 2);
  held[1]!.close();
  names.close();
});

test('NameTable: a refused name whose last observer leaves as it is admitted lets go of the table’s name (no hold outlives it)', () => {
  const clock = new FakeClock();
  const names = new NameTable({ idleTtlMs: 1000, maxNames: 1, clock });
  const held = names.get('a', Path.of('a'), counting(bound).source).addr.observe(() => {});
  const c = counting((sink) => sink.update('neg'));
  const refused = names.get('c', Path.of('c'), c.source);
  // A user that lets go of a name once it turns out not to exist, from inside the update saying so.
  let seen: { close(): void } | undefined;
  seen = refused.lookup(Path.empty).observe((state) => {
    if (state.status === 'ok' && state.value.kind === 'neg') seen?.close();
  });
  assert.equal(refused.addr.sample.type, 'failed');
  held.close();
  clock.advance(REFUSED_RETRY_MAX_MS);
  assert.equal(c.counts.started, 1, 'admitted once there was room');
  assert.equal(refused.state, 'neg');
  // Nobody uses `c` now: the table's name goes within its (negative) idle TTL, and no timer is left.
  clock.advance(NEGATIVE_IDLE_TTL_MS * 1.25 + 1000);
  assert.deepEqual(c.counts, { started: 1, stopped: 1 }, 'the table’s name stopped');
  assert.equal(names.size, 0);
  assert.equal(clock.running, 0);
  names.close();
});

/** A table of at most `maxNames` names, new ones started at most `perSecond` after `burst`; both refusals name the key. */
function rated(clock: FakeClock, maxNames: number, perSecond: number, burst: number, idleTtlMs = 0) {
  const counts = { full: 0, rate: 0 };
  const names = new NameTable({
    idleTtlMs,
    maxNames,
    onFull: () => counts.full++,
    refusal: (key) => `full: ${key}`,
    rate: new CreationRate({ perSecond, burst }, clock),
    onRate: () => counts.rate++,
    rateRefusal: (key) => `rate: ${key}`,
    clock,
  });
  const use = (key: string) => {
    const name = names.get(key, Path.of(key), counting(bound).source);
    return { name, observed: name.addr.observe(() => {}) };
  };
  return { names, counts, use };
}

test('NameTable: a new name the full table refuses spends none of the rate: after a flood of them, a new name with room starts at once', () => {
  // The clock never moves: no token comes back but those given back.
  const clock = new FakeClock();
  const { names, counts, use } = rated(clock, 1, 1, 2);
  const held = use('a');
  assert.equal(held.name.state, 'bound');
  // One token is left: every name of the flood finds it, and the full table refuses it.
  for (let i = 0; i < 5; i++) {
    const flood = use(`flood-${i}`);
    assert.deepEqual(flood.name.addr.sample, { type: 'failed', cause: `full: flood-${i}` });
    flood.observed.close();
  }
  assert.deepEqual(counts, { full: 5, rate: 0 });
  held.observed.close();
  const next = use('b');
  assert.equal(next.name.state, 'bound', `b: ${next.name.lastError ?? ''}`);
  next.observed.close();
  names.close();
});

test('NameTable: a waiting name says its latest refusal: full, it fails naming the table; then held by the rate only, it is pending naming the rate (and back)', () => {
  const clock = new FakeClock();
  // A token every 100 s: a retry (at most REFUSED_RETRY_MAX_MS apart) finds none come back. Idle names stay, and make room.
  const { names, counts, use } = rated(clock, 2, 0.01, 3, 60_000);
  const a = use('a');
  const b = use('b');
  const x = use('x');
  assert.deepEqual(x.name.addr.sample, { type: 'failed', cause: 'full: x' });
  // a idle makes room for c, which takes the last token; then c is idle too.
  a.observed.close();
  const c = use('c');
  c.observed.close();
  clock.advance(REFUSED_RETRY_MAX_MS);
  assert.equal(x.name.state, 'pending', `x: ${JSON.stringify(x.name.addr.sample)}`);
  assert.equal(x.name.lastError, 'rate: x');
  // c in use again (no token: it is in the table): full of names in use, and tokens come back. Full is what it says, failed.
  const again = use('c');
  clock.advance(100_000);
  assert.deepEqual(x.name.addr.sample, { type: 'failed', cause: 'full: x' });
  assert.equal(x.name.lastError, 'full: x');
  // Room and a token: admitted.
  again.observed.close();
  clock.advance(REFUSED_RETRY_MAX_MS);
  assert.equal(x.name.state, 'bound');
  assert.equal(x.name.addr.sample.type, 'bound');
  assert.deepEqual(counts, { full: 2, rate: 0 }, 'each refused name counted once, by what refused it first');
  for (const o of [b, x]) o.observed.close();
  names.close();
});
