import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ShareBudget } from '../../src/util/share-budget.js';
import { ClientUsage, HoldsPerClient } from '../../src/util/holds-per-client.js';

/**
 * One budget with a share per client, for window growth and for replays alike: a share's count is
 * a field of the client's ClientUsage, and a refusal says whether the budget or the share was spent.
 */
test('ShareBudget lends from the budget and from a share counted in the client\'s own field; refusals say which was spent', () => {
  const budget = new ShareBudget('replayBytes', 100, 40);
  const a = new ClientUsage();
  const b = new ClientUsage();
  // All or nothing: the share (40) refuses what the budget would lend.
  assert.equal(budget.takeAll(30, a), true);
  assert.equal(budget.takeAll(20, a), false);
  assert.deepEqual([budget.held, a.replayBytes, a.windowGrowth, budget.refused, budget.shareRefused], [30, 30, 0, 1, 1]);
  // Up to what is left: the share gives its last 10.
  assert.equal(budget.take(20, a), 10);
  assert.equal(budget.take(5, a), 0);
  assert.deepEqual([budget.held, a.replayBytes, budget.refused, budget.shareRefused], [40, 40, 2, 2]);
  // Another client's share is its own; the budget (100) refuses past it, whatever the share has left.
  assert.equal(budget.takeAll(40, b), true);
  assert.equal(budget.takeAll(25, null), false);
  assert.equal(budget.take(25, null), 20);
  assert.equal(budget.take(1, b), 0);
  assert.deepEqual([budget.held, b.replayBytes, budget.refused, budget.shareRefused], [100, 40, 4, 2]);
  // Given back, the budget and the shares are whole again.
  budget.give(40, a);
  budget.give(40, b);
  budget.give(20, null);
  assert.deepEqual([budget.held, a.replayBytes, b.replayBytes], [0, 0, 0]);
});

/**
 * Request bytes a pod's calls left in endpoint sockets outlive its connections. Its usage went with
 * its last connection, so a pod that closed them all and reconnected got a fresh share beside the
 * bytes still counted on the old one: a few rounds of that spent queuedRequestBytes alone. The
 * usage now stays with its address until those bytes are written.
 */
test('a client address whose last connection closed keeps its usage while its queued request bytes are unwritten: reconnecting finds them counted', () => {
  const budget = new ShareBudget('queuedRequestBytes', 100, 40);
  const table = new HoldsPerClient(4);
  const first = table.acquire('10.0.0.7')!;
  assert.equal(budget.hold(50, first), false, 'past its share of 40');
  table.release('10.0.0.7');
  assert.equal(table.usageOf('10.0.0.7'), first, 'kept: 50 bytes of its are still unwritten');
  // It reconnects: the same usage, its share still spent.
  const again = table.acquire('10.0.0.7')!;
  assert.equal(again, first);
  assert.equal(budget.spentFor(again), true);
  table.release('10.0.0.7');
  // The socket writes them: the address goes.
  budget.give(30, first);
  assert.equal(table.usageOf('10.0.0.7'), first);
  budget.give(20, first);
  assert.equal(table.usageOf('10.0.0.7'), undefined);
  assert.equal(budget.held, 0);
  // An address holding nothing goes with its last connection, as before; one that came back keeps its usage.
  table.acquire('10.0.0.8');
  table.release('10.0.0.8');
  assert.equal(table.usageOf('10.0.0.8'), undefined);
  const third = table.acquire('10.0.0.9')!;
  budget.hold(10, third);
  table.release('10.0.0.9');
  table.acquire('10.0.0.9');
  budget.give(10, third);
  assert.equal(table.usageOf('10.0.0.9'), third, 'a connection of it is open');
  table.release('10.0.0.9');
  assert.equal(table.usageOf('10.0.0.9'), undefined);
});
