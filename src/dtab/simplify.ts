import { Fail, Neg, type NameTree, type Weighted } from './nametree.js';

/**
 * Finagle's `NameTree.simplify`: an evaluation-equivalent tree. Empty Alt/Union → Neg; a single
 * child → that child (its weight dropped). Alt: Neg children dropped, Empty kept, the first Fail
 * kept and everything after it dropped. Union: Fail and Neg children dropped, weights kept,
 * nothing left → Neg. Nested Alts are not flattened.
 */
export function simplify<T>(tree: NameTree<T>): NameTree<T> {
  switch (tree.kind) {
    case 'alt': {
      if (tree.trees.length === 0) return Neg;
      if (tree.trees.length === 1) return simplify(tree.trees[0]!);
      const out: NameTree<T>[] = [];
      for (const child of tree.trees) {
        const s = simplify(child);
        if (s.kind === 'fail') {
          out.push(Fail);
          break;
        }
        if (s.kind !== 'neg') out.push(s);
      }
      if (out.length === 0) return Neg;
      if (out.length === 1) return out[0]!;
      return { kind: 'alt', trees: out };
    }
    case 'union': {
      if (tree.trees.length === 0) return Neg;
      if (tree.trees.length === 1) return simplify(tree.trees[0]!.tree);
      const out: Weighted<T>[] = [];
      for (const w of tree.trees) {
        const s = simplify(w.tree);
        if (s.kind !== 'fail' && s.kind !== 'neg') out.push({ weight: w.weight, tree: s });
      }
      if (out.length === 0) return Neg;
      if (out.length === 1) return out[0]!.tree;
      return { kind: 'union', trees: out };
    }
    default:
      return tree;
  }
}
