import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ShareBudget } from '../../src/util/share-budget.js';
import { ClientUsage } from '../../src/util/holds-per-client.js';

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
