import type { DelegateNode, Routing } from './delegate-node.js';
import { fallsThrough, keptByUnion, unionOutcome, unionShares, type Outcome } from './route.js';

export type { CallFailure, Routing } from './delegate-node.js';

type Node = DelegateNode;

/**
 * The delegation tree with `routing` on every node, by the binder's own rules (route.ts): an Alt
 * takes its first branch that does not fall through (only Neg does; a bound name with no
 * addresses does not), a Union keeps its bound branches and shares calls among them as the
 * per-call pick does (all-zero weights: evenly). Where a chosen route ends, `fails` says what the
 * router answers those calls: 'no route' at Neg, Fail or Empty, 'binding failed' at an error,
 * 'no endpoints' at a bound name whose address set has none.
 */
export function routeDelegation(root: Node): Node {
  const outcomes = new Map<Node, Outcome>();
  outcomeOf(root, outcomes);
  return annotate(root, outcomes, true, 1);
}

function outcomeOf(node: Node, memo: Map<Node, Outcome>): Outcome {
  let o: Outcome;
  switch (node.type) {
    case 'leaf':
      o = 'bound';
      break;
    case 'neg':
    case 'fail':
    case 'empty':
      o = node.type;
      break;
    case 'exception':
      o = 'error';
      break;
    case 'delegate':
      o = outcomeOf(node.delegate, memo);
      break;
    case 'alt': {
      o = 'neg';
      // Every branch gets an outcome (each is drawn), but the Alt's is its first that does not fall through.
      for (const b of node.alt) {
        const bo = outcomeOf(b, memo);
        if (o === 'neg' && !fallsThrough(bo)) o = bo;
      }
      break;
    }
    case 'union':
      o = unionOutcome(node.union.map((w) => outcomeOf(w.tree, memo)));
      break;
  }
  memo.set(node, o);
  return o;
}

function annotate(node: Node, outcomes: Map<Node, Outcome>, chosen: boolean, share: number): Node {
  const outcome = outcomes.get(node)!;
  const routing: Routing = { outcome, chosen, share: chosen ? share : 0 };
  switch (node.type) {
    case 'delegate':
      return { ...node, delegate: annotate(node.delegate, outcomes, chosen, share), routing };
    case 'alt': {
      let taken = false;
      const alt = node.alt.map((b) => {
        const take = chosen && !taken && !fallsThrough(outcomes.get(b)!);
        if (take) taken = true;
        return annotate(b, outcomes, take, share);
      });
      if (chosen && !taken) routing.fails = 'no route';
      return { ...node, alt, routing };
    }
    case 'union': {
      const keptIdx = node.union.flatMap((w, i) => (keptByUnion(outcomes.get(w.tree)!) ? [i] : []));
      const shares = unionShares(keptIdx.map((i) => node.union[i]!.weight));
      const union = node.union.map((w, i) => {
        const k = keptIdx.indexOf(i);
        return { ...w, tree: annotate(w.tree, outcomes, chosen && k >= 0, k >= 0 ? share * shares[k]! : 0) };
      });
      // Nothing kept: the Union is Neg (or failed) and its calls end here.
      if (chosen && keptIdx.length === 0) routing.fails = outcome === 'error' ? 'binding failed' : 'no route';
      return { ...node, union, routing };
    }
    case 'leaf': {
      const a = node.bound.addr;
      if (chosen && !(a.type === 'bound' && a.addrs.length > 0)) routing.fails = 'no endpoints';
      return { ...node, routing };
    }
    case 'exception':
      if (chosen) routing.fails = 'binding failed';
      return { ...node, routing };
    default:
      if (chosen) routing.fails = 'no route';
      return { ...node, routing };
  }
}
