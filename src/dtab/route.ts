import type { ActivityState } from '../util/activity.js';
import type { Address, BoundName } from './name.js';
import type { NameTree, Weighted } from './nametree.js';

/**
 * Routing's rules over name trees, in one place: which Alt branch binding takes, which Union
 * branches it keeps, how calls are shared among them, and the pick made for each call. The binder
 * (interpreter.ts), the per-call pick (the router) and the explanation of a delegation
 * (delegation-routing.ts) all use these, so what the admin says is what routing does.
 */

/** What a (sub)tree binds to, as far as routing cares. */
export type Outcome = 'bound' | 'empty' | 'neg' | 'fail' | 'error' | 'pending';

/** The outcome of a binding state: a failed lookup is 'error', a tree is judged by its kind. */
export function outcomeOfState(state: ActivityState<NameTree<unknown>>): Outcome {
  if (state.status === 'failed') return 'error';
  if (state.status === 'pending') return 'pending';
  switch (state.value.kind) {
    case 'neg':
    case 'fail':
    case 'empty':
      return state.value.kind;
    default:
      return 'bound';
  }
}

/**
 * Whether an Alt moves on past a branch with this outcome: only Neg falls through. A bound name
 * whose address set is Neg or empty is still bound (as in Finagle), Fail stops the Alt, Empty wins.
 */
export function fallsThrough(outcome: Outcome): boolean {
  return outcome === 'neg';
}

/** Whether a Union keeps a branch with this outcome: Neg and Fail branches drop out, failed lookups are ignored. */
export function keptByUnion(outcome: Outcome): boolean {
  return outcome === 'bound' || outcome === 'empty';
}

/**
 * A Union's outcome from its branches' (Finagle's `Namer.bind` for Union): with a kept branch, the
 * Union is bound (Empty when every kept branch is); with none but some branch that bound to Neg or
 * Fail, Neg; otherwise the first failure, else pending. One branch is that branch.
 */
export function unionOutcome(outcomes: readonly Outcome[]): Outcome {
  if (outcomes.length === 0) return 'neg';
  if (outcomes.length === 1) return outcomes[0]!;
  let kept = false;
  let bound = false;
  let negOrFail = false;
  let error = false;
  for (const o of outcomes) {
    if (keptByUnion(o)) {
      kept = true;
      if (o === 'bound') bound = true;
    } else if (o === 'neg' || o === 'fail') negOrFail = true;
    else if (o === 'error') error = true;
  }
  if (kept) return bound ? 'bound' : 'empty';
  if (negOrFail) return 'neg';
  return error ? 'error' : 'pending';
}

/** A branch's weight as routing counts it: negative or NaN counts as 0. */
function effectiveWeight(weight: number): number {
  return weight > 0 ? weight : 0;
}

/**
 * The share of calls each Union branch receives: in proportion to its weight; when every weight
 * is 0, evenly (Linkerd's NameTreeFactory). The per-call pick below draws by exactly these shares.
 */
export function unionShares(weights: readonly number[]): number[] {
  let total = 0;
  for (const w of weights) total += effectiveWeight(w);
  if (total <= 0) return weights.map(() => 1 / weights.length);
  return weights.map((w) => effectiveWeight(w) / total);
}

/**
 * The branch a call with the uniform draw `u` (0 ≤ u < 1) goes to. Branch i receives exactly
 * `unionShares(weights)[i]` of the draws. Written without allocating: it runs once per call.
 */
export function pickBranch(branches: readonly Weighted<unknown>[], u: number): number {
  const n = branches.length;
  let total = 0;
  for (let i = 0; i < n; i++) total += effectiveWeight(branches[i]!.weight);
  if (total <= 0) return Math.min(n - 1, Math.floor(u * n));
  // Compared as fractions of the total, as unionShares computes them: scaling the draw by the
  // total instead underflows for tiny weights (two weights of 5e-324 would send every call to one).
  let cumulative = 0;
  for (let i = 0; i < n; i++) {
    cumulative += effectiveWeight(branches[i]!.weight) / total;
    if (u < cumulative) return i;
  }
  // Rounding left the sum just under 1: the last branch with weight takes the draw.
  for (let i = n - 1; i > 0; i--) if (effectiveWeight(branches[i]!.weight) > 0) return i;
  return 0;
}

/**
 * The bound name one call goes to: a Leaf is itself; a Union is a pick by `pickBranch`, per call;
 * Neg, Fail and Empty route nowhere (undefined). A chosen branch that leads nowhere is a black hole
 * receiving its share, as in Linkerd, so the caller reports it rather than silently re-picking.
 */
export function pickLeaf(tree: NameTree<BoundName>, random: () => number = Math.random): BoundName | undefined {
  switch (tree.kind) {
    case 'leaf':
      return tree.value;
    case 'union': {
      const branches = tree.trees;
      if (branches.length === 0) return undefined;
      if (branches.length === 1) return pickLeaf(branches[0]!.tree, random);
      return pickLeaf(branches[pickBranch(branches, random())]!.tree, random);
    }
    case 'alt':
      // Bound trees hold no Alt; should one appear, its first branch that routes wins.
      for (const t of tree.trees) {
        const b = pickLeaf(t, random);
        if (b !== undefined) return b;
      }
      return undefined;
    default:
      return undefined;
  }
}

/**
 * Every leaf calls to `tree` may reach, with the share of calls it gets: a Union's branches by
 * `unionShares` (nested shares multiplied, branches with no share left out); should a bound tree
 * hold an Alt (binding resolves them), its first branch that leads somewhere, as pickLeaf takes.
 * What grpclb lists and xDS routes and endpoints are made from.
 */
export function forEachLeafShare(tree: NameTree<BoundName>, visit: (leaf: BoundName, share: number) => void, share = 1): void {
  switch (tree.kind) {
    case 'leaf':
      return visit(tree.value, share);
    case 'union': {
      const split = unionShares(tree.trees.map((b) => b.weight));
      tree.trees.forEach((b, i) => {
        if (split[i]! > 0) forEachLeafShare(b.tree, visit, share * split[i]!);
      });
      return;
    }
    case 'alt':
      for (const b of tree.trees) if (b.kind !== 'neg' && b.kind !== 'fail' && b.kind !== 'empty') return forEachLeafShare(b, visit, share);
      return;
    default:
      return;
  }
}
