import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Closers } from '../../src/util/closers.js';
import { Logger } from '../../src/util/log.js';
import { ShutdownSequence } from '../../src/util/shutdown.js';
import { FakeClock } from '../support/fake-clock.js';

/** A sequence with a 1000 ms delay on a FakeClock whose drain waits for the test to release it. */
function sequence() {
  const clock = new FakeClock();
  const events: string[] = [];
  const log = Logger.create({ level: 'info', sink: { write: (line) => void events.push(`log ${(JSON.parse(line) as { msg: string }).msg}`) } });
  const closers = new Closers(log);
  closers.push(() => void events.push('closed'));
  let releaseDrain!: () => void;
  const drained = new Promise<void>((resolve) => (releaseDrain = resolve));
  const seq = new ShutdownSequence({
    log,
    closers,
    delayMs: 1000,
    announcement: 'shutting down: test',
    drain: async () => {
      events.push('drain');
      await drained;
      events.push('drained');
    },
    clock,
  });
  return { seq, clock, events, releaseDrain };
}

/** Let pending promise callbacks run (no time passes). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

test('ShutdownSequence: not ready at once, drains only after the delay, closes only after the drain', async () => {
  const { seq, clock, events, releaseDrain } = sequence();
  assert.equal(seq.draining, false);
  const done = seq.shutdown('test');
  assert.equal(seq.draining, true);
  clock.advance(999);
  await settle();
  assert.deepEqual(events, ['log shutting down: test'], 'still serving during the delay');
  clock.advance(1);
  await settle();
  assert.deepEqual(events, ['log shutting down: test', 'drain'], 'nothing closed while draining');
  releaseDrain();
  await done;
  assert.deepEqual(events, ['log shutting down: test', 'drain', 'drained', 'closed', 'log stopped']);
});

test('ShutdownSequence: shutdown again returns the same promise and runs nothing twice', async () => {
  const { seq, clock, events, releaseDrain } = sequence();
  const first = seq.shutdown('SIGTERM');
  assert.equal(seq.shutdown('SIGINT'), first);
  releaseDrain();
  clock.advance(1000);
  await first;
  assert.equal(seq.shutdown('again'), first);
  assert.deepEqual(events, ['log shutting down: test', 'drain', 'drained', 'closed', 'log stopped']);
});

test('ShutdownSequence: close() during the delay cancels it and closes now; the shutdown neither drains nor closes again', async () => {
  const { seq, clock, events } = sequence();
  const done = seq.shutdown('test');
  assert.equal(clock.running, 1, 'the delay is pending');
  await seq.close();
  assert.equal(clock.running, 0, 'the delay timer is gone');
  await done;
  clock.advance(10_000);
  await settle();
  assert.deepEqual(events, ['log shutting down: test', 'closed', 'log stopped']);
});

test('ShutdownSequence: close() during the drain closes now, once; the shutdown ends after it', async () => {
  const { seq, clock, events, releaseDrain } = sequence();
  const done = seq.shutdown('test');
  clock.advance(1000);
  await settle();
  await seq.close();
  assert.deepEqual(events, ['log shutting down: test', 'drain', 'closed']);
  releaseDrain();
  await done;
  assert.deepEqual(events, ['log shutting down: test', 'drain', 'closed', 'drained', 'log stopped']);
});
