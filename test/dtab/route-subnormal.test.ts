import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pickBranch, unionShares } from '../../src/dtab/route.js';

/**
 * Found by route.test.ts's property (seed -808689895, counterexample [[5e-324, 5e-324]]): with
 * subnormal weights, `u * total` in pickBranch rounds to a multiple of the smallest double, so the
 * draw no longer splits by the shares unionShares reports. Two equal weights have shares 0.5/0.5,
 * yet a draw of 0.4 lands on the second branch. Fails until pickBranch draws on normalised shares.
 */
test('pickBranch follows unionShares for tiny (subnormal) equal weights', () => {
  const branches = [5e-324, 5e-324].map((weight) => ({ weight, tree: { kind: 'neg' } as const }));
  assert.deepEqual(unionShares([5e-324, 5e-324]), [0.5, 0.5]);
  assert.equal(pickBranch(branches, 0.4), 0, 'a draw of 0.4 is inside the first branch\'s share of 0.5');
  assert.equal(pickBranch(branches, 0.6), 1);
});
