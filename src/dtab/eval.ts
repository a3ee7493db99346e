import type { NameTree } from './nametree.js';

/**
 * Finagle's `NameTree.eval`: the set of leaf values a tree stands for, weights discarded, or
 * `undefined` when it stands for nothing (Neg or Fail). Empty → the empty set; Alt → its first
 * non-Neg child (a Fail stops it); Union → the union of its children, ignoring Neg/Fail children,
 * `undefined` when all of them are.
 */
export function evaluate<T>(tree: NameTree<T>): Set<T> | undefined {
  const r = evalTree(tree);
  return r === 'neg' || r === 'fail' ? undefined : r;
}

function evalTree<T>(tree: NameTree<T>): Set<T> | 'neg' | 'fail' {
  switch (tree.kind) {
    case 'fail':
      return 'fail';
    case 'neg':
      return 'neg';
    case 'empty':
      return new Set();
    case 'leaf':
      return new Set([tree.value]);
    case 'alt': {
      for (const child of tree.trees) {
        const r = evalTree(child);
        if (r !== 'neg') return r;
      }
      return 'neg';
    }
    case 'union': {
      let acc: Set<T> | undefined;
      for (const w of tree.trees) {
        const r = evalTree(w.tree);
        if (r === 'neg' || r === 'fail') continue;
        acc ??= new Set();
        for (const v of r) acc.add(v);
      }
      return acc ?? 'neg';
    }
  }
}
