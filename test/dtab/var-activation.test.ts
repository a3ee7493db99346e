import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Var } from '../../src/util/var.js';

test('Var: an activation that sets the value synchronously tells the first observer once', () => {
  const v = new Var<number>(0, (self) => {
    self.set(1);
  });
  const seen: number[] = [];
  const o = v.observe((x) => seen.push(x));
  assert.deepEqual(seen, [1]);
  v.set(2);
  assert.deepEqual(seen, [1, 2]);
  o.close();
  const plain = new Var(5);
  const seen2: number[] = [];
  plain.observe((x) => seen2.push(x)).close();
  assert.deepEqual(seen2, [5]);
});
