import type { BoundName } from '../dtab/name.js';
import type { NameTree } from '../dtab/nametree.js';

/**
 * The bound name one stream goes to: a Leaf is itself; a Union is a weighted random pick among its
 * branches, per stream (Linkerd's NameTreeFactory; all-zero weights share evenly); Neg, Fail and
 * Empty route nowhere (undefined). A chosen branch that leads nowhere is a black hole receiving its
 * share, as in Linkerd, so the caller reports it rather than silently re-picking.
 */
export function pickLeaf(tree: NameTree<BoundName>): BoundName | undefined {
  switch (tree.kind) {
    case 'leaf':
      return tree.value;
    case 'union': {
      const branches = tree.trees;
      if (branches.length === 0) return undefined;
      if (branches.length === 1) return pickLeaf(branches[0]!.tree);
      let total = 0;
      for (let i = 0; i < branches.length; i++) total += branches[i]!.weight > 0 ? branches[i]!.weight : 0;
      if (total <= 0) return pickLeaf(branches[Math.floor(Math.random() * branches.length)]!.tree);
      let r = Math.random() * total;
      for (let i = 0; i < branches.length; i++) {
        const w = branches[i]!.weight > 0 ? branches[i]!.weight : 0;
        r -= w;
        if (r < 0) return pickLeaf(branches[i]!.tree);
      }
      return pickLeaf(branches[branches.length - 1]!.tree);
    }
    case 'alt':
      // Bound trees hold no Alt; should one appear, its first branch that routes wins.
      for (const t of tree.trees) {
        const b = pickLeaf(t);
        if (b !== undefined) return b;
      }
      return undefined;
    default:
      return undefined;
  }
}
