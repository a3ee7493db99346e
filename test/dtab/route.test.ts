import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { pickBranch, pickLeaf, unionShares } from '../../src/dtab/route.js';
import type { BoundName } from '../../src/dtab/name.js';
import type { NameTree } from '../../src/dtab/nametree.js';
import { boundName } from '../support/fake-namer.js';
import { parsePath } from '../../src/dtab/parse.js';

/**
 * The per-call pick draws by exactly the shares the admin reports: over a fine, even sweep of
 * draws, the fraction that lands on each branch is its share (within the sweep's resolution: each
 * of a branch's two edges may gain or lose one draw as the float sums round).
 */
test('pickBranch lands on each branch in proportion to unionShares, all-zero weights evenly', () => {
  const weight = fc.oneof(fc.constantFrom(0, -1, Number.NaN, 1), fc.double({ min: 0, max: 100, noNaN: true }));
  fc.assert(
    fc.property(fc.array(weight, { minLength: 1, maxLength: 6 }), (weights) => {
      const branches = weights.map((w) => ({ weight: w, tree: { kind: 'neg' } as const }));
      const steps = 20000;
      const hits = new Array<number>(weights.length).fill(0);
      for (let i = 0; i < steps; i++) hits[pickBranch(branches, (i + 0.5) / steps)]!++;
      const shares = unionShares(weights);
      shares.forEach((s, i) => assert.ok(Math.abs(hits[i]! / steps - s) <= 2 / steps, `branch ${i}: ${hits[i]! / steps} vs ${s} for ${weights}`));
      assert.ok(Math.abs(shares.reduce((x, y) => x + y, 0) - 1) < 1e-9);
    }),
  );
  assert.deepEqual(unionShares([0, 0]), [0.5, 0.5]);
  assert.deepEqual(unionShares([1, 3]), [0.25, 0.75]);
  assert.deepEqual(unionShares([0, 2]), [0, 1]);
});

test('pickLeaf: a Union routes by its weights per call; Neg, Fail and Empty route nowhere', () => {
  const a = boundName(parsePath('/$/inet/127.0.0.1/1'), ['127.0.0.1:1']);
  const b = boundName(parsePath('/$/inet/127.0.0.1/2'), ['127.0.0.1:2']);
  const tree: NameTree<BoundName> = { kind: 'union', trees: [{ weight: 0, tree: { kind: 'leaf', value: a } }, { weight: 0, tree: { kind: 'leaf', value: b } }] };
  assert.equal(pickLeaf(tree, () => 0.25), a);
  assert.equal(pickLeaf(tree, () => 0.75), b);
  for (const kind of ['neg', 'fail', 'empty'] as const) assert.equal(pickLeaf({ kind }), undefined);
});
