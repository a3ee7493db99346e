import assert from 'node:assert/strict';
import { Path, leaf, type NameTree } from '../../src/dtab/index.js';
import { treeEquals } from '../../src/dtab/tree.js';

/** A leaf naming the path of these segments: `l('a', 'b')` is `/a/b`. */
export const l = (...segments: string[]) => leaf(Path.of(...segments));

/** Structural equality of path trees (weights, order and paths). */
export const sameTree = (a: NameTree<Path>, b: NameTree<Path>): boolean => treeEquals(a, b, (x, y) => x.equals(y));

export function assertTree(actual: NameTree<Path>, expected: NameTree<Path>): void {
  assert.ok(sameTree(actual, expected), `got ${JSON.stringify(actual)}\nwanted ${JSON.stringify(expected)}`);
}
