import type { NameTree, Weighted } from './nametree.js';

/** Finagle's `NameTree.map`: the same shape with every leaf value replaced by `f(value)`. */
export function mapTree<T, U>(tree: NameTree<T>, f: (value: T) => U): NameTree<U> {
  switch (tree.kind) {
    case 'leaf':
      return { kind: 'leaf', value: f(tree.value) };
    case 'alt':
      return { kind: 'alt', trees: tree.trees.map((t) => mapTree(t, f)) };
    case 'union':
      return { kind: 'union', trees: tree.trees.map((w) => ({ weight: w.weight, tree: mapTree(w.tree, f) })) };
    default:
      return tree;
  }
}

/** Structural equality; leaves are compared with `leafEquals` (identity by default). */
export function treeEquals<T>(
  a: NameTree<T>,
  b: NameTree<T>,
  leafEquals: (x: T, y: T) => boolean = Object.is,
): boolean {
  if (a === b) return true;
  if (a.kind !== b.kind) return false;
  switch (a.kind) {
    case 'leaf':
      return leafEquals(a.value, (b as typeof a).value);
    case 'alt': {
      const bt = (b as typeof a).trees;
      return a.trees.length === bt.length && a.trees.every((t, i) => treeEquals(t, bt[i]!, leafEquals));
    }
    case 'union': {
      const bt = (b as typeof a).trees;
      return (
        a.trees.length === bt.length &&
        a.trees.every((w: Weighted<T>, i) => Object.is(w.weight, bt[i]!.weight) && treeEquals(w.tree, bt[i]!.tree, leafEquals))
      );
    }
    default:
      return true;
  }
}

/** Every leaf value, left to right. */
export function leaves<T>(tree: NameTree<T>, out: T[] = []): T[] {
  switch (tree.kind) {
    case 'leaf':
      out.push(tree.value);
      break;
    case 'alt':
      for (const t of tree.trees) leaves(t, out);
      break;
    case 'union':
      for (const w of tree.trees) leaves(w.tree, out);
      break;
  }
  return out;
}
