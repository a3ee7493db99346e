import type { Closable } from '../util/var.js';
import { Var } from '../util/var.js';
import { PENDING, failed, ok, type Activity, type ActivityState } from '../util/activity.js';
import type { GlobalNamer, PrefixedNamer } from './namer.js';
import { NamerRule, type NamerCandidate } from './namer-rule.js';
import type { BoundName, Name } from './name.js';
import { Neg, type NameTree, type Weighted } from './nametree.js';
import { lookupTree, type DentryMatch, type Dtab } from './dtab.js';
import { fallsThrough, keptByUnion, outcomeOfState, unionOutcome, type Outcome } from './route.js';
import type { Path } from './path.js';
import { simplify } from './simplify.js';
import { treeEquals } from './tree.js';
import { WeightedViews } from './weighted-bound.js';

export const DEFAULT_MAX_DEPTH = 100;
/**
 * Lookups one binding may make. Depth alone does not bound the work: each `&` or `|` that falls
 * through binds every branch, so N dentries of two branches each make 2^N lookups, and a
 * client's 600-byte `l5d-dtab` held the event loop for half a minute. Real dtabs need tens.
 */
export const DEFAULT_MAX_LOOKUPS = 200;

/** Binding would take more than `maxLookups` lookups (a dtab whose branches multiply). */
export class NamerMaxLookupsError extends Error {
  override readonly name = 'NamerMaxLookupsError';
  constructor(readonly maxLookups: number) {
    super(`Binding needs more than ${maxLookups} lookups: the dtab's alternatives and unions multiply`);
  }
}

/** Binding followed more than `maxDepth` rewrites (usually a dtab loop such as `/a=>/b;/b=>/a`). */
export class NamerMaxDepthError extends Error {
  override readonly name = 'NamerMaxDepthError';
  constructor(readonly maxDepth: number) {
    super(`Max recursion level: ${maxDepth} reached in Namer lookup`);
  }
}

export interface NameInterpreterOptions {
  /** Configured namers in configuration order; the last configured is tried first. */
  namers?: readonly PrefixedNamer[];
  /** Answers `/$/…` names; receives the whole path (see GlobalNamer for its contract). */
  global: GlobalNamer;
  /** Rewrites allowed before binding gives up (Finagle's `namerMaxDepth`, default 100). */
  maxDepth?: number;
  /** Lookups one binding (or delegation) may make, over all its branches (default 200). */
  maxLookups?: number;
}

export type { NamerCandidate } from './namer-rule.js';

/**
 * One lookup step for a path, as binding, delegation and readiness all take it: the dentries that
 * match it (latest first); when their tree is Neg (none match, or the one that does says `~`), the
 * namers to ask, in order.
 */
export type LookupStep =
  | { readonly from: 'dtab'; readonly matches: readonly DentryMatch[]; readonly tree: NameTree<Name> }
  | { readonly from: 'namers'; readonly matches: readonly DentryMatch[]; readonly candidates: readonly NamerCandidate[] };

/**
 * Binds logical names to trees of bound names (Linkerd's `ConfiguredNamersInterpreter` over
 * Finagle's `Namer.bind`).
 *
 * A lookup asks the dtab first; only when the dtab gives Neg for that exact path are the configured
 * namers whose prefix starts the path asked (last configured first, each given the path minus its
 * prefix, the first non-Neg answer winning), and then the global namer. A leaf naming a path is
 * looked up and bound again; Alt takes its first child that does not bind to Neg (a Fail stops it,
 * Empty wins); Union binds every child and keeps those that did not bind to Neg or Fail, with their
 * weights (each bound address set below a Union also carries its branch weight in
 * `meta.namer_nametree_weight`, as in Finagle). Bound trees hold no Alt.
 *
 * Binding is reactive: the Activity returned by `bind` re-binds whenever a namer answer it used
 * changes, for as long as someone observes it.
 */
export class NameInterpreter {
  readonly namers: readonly PrefixedNamer[];
  readonly global: GlobalNamer;
  readonly maxDepth: number;
  readonly maxLookups: number;
  /** Which namer answers a path the dtab gave Neg for. */
  readonly rule: NamerRule;

  constructor(options: NameInterpreterOptions) {
    this.namers = options.namers ?? [];
    this.global = options.global;
    this.rule = new NamerRule(this.namers, this.global);
    this.maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
    this.maxLookups = options.maxLookups ?? DEFAULT_MAX_LOOKUPS;
  }

  /**
   * Bind `path` through `dtab ++ local`. The result is lazy: it binds when first observed, keeps the
   * namer answers it uses observed while it is, and releases them when its last observer leaves.
   *
   * A live `dtab` (a dtab file, reloaded) is one more input the binding observes, like a namer's
   * answer: a new dtab binds again and publishes once, with the namer answers both use kept open
   * across the switch, so observers see the old tree or the new one, never a mix.
   */
  bind(dtab: Dtab | Var<Dtab>, path: Path, local?: Dtab): Activity<NameTree<BoundName>> {
    return new Var<ActivityState<NameTree<BoundName>>>(PENDING, (self) => {
      const binding = new Binding(this, dtab, local, path, self);
      binding.run();
      return () => binding.close();
    });
  }

  /** The one lookup step: what the dtab says about `path`, or which namers to ask when it says Neg. */
  step(dtab: Dtab, path: Path): LookupStep {
    const matches = dtab.matches(path);
    const tree = lookupTree(matches);
    if (tree.kind !== 'neg') return { from: 'dtab', matches, tree };
    return { from: 'namers', matches, candidates: this.rule.candidates(path) };
  }

  /** The namers to ask, in order, for a path the dtab gave Neg for; the global namer last. */
  candidates(path: Path): NamerCandidate[] {
    return this.rule.candidates(path);
  }
}

type State<T> = ActivityState<T>;
type BoundTree = NameTree<BoundName>;

/**
 * One live binding. Each run walks the tree, reading every namer answer it needs through `read`,
 * which keeps that answer observed; answers no longer needed are released after the run. Any change
 * to an observed answer runs it again, so the result follows discovery without polling.
 */
class Binding {
  private readonly observed = new Map<Var<unknown>, Closable>();
  private used = new Set<Var<unknown>>();
  /** The weighted views of bound names this binding's tree holds: kept across passes, let go with it. */
  private readonly views = new WeightedViews();
  /** Inside run(): binding, releasing or publishing. */
  private running = false;
  /** Lookups of the current pass (bounded by the interpreter's maxLookups). */
  private lookups = 0;
  /** The input being subscribed to: its first, synchronous notification is not a change. */
  private subscribing: Var<unknown> | undefined;
  private dirty = false;
  private closed = false;
  /** This run's dtab: the base as it is now ++ the local dtab (made again only when the base changed). */
  private dtab: Dtab;
  private dtabOf: Dtab | undefined;

  constructor(
    private readonly interpreter: NameInterpreter,
    private readonly base: Dtab | Var<Dtab>,
    private readonly local: Dtab | undefined,
    private readonly path: Path,
    private readonly out: Var<State<BoundTree>>,
  ) {
    this.dtab = base instanceof Var ? base.sample : base;
  }

  private currentDtab(): Dtab {
    const base = this.base instanceof Var ? this.read(this.base) : this.base;
    if (base !== this.dtabOf) {
      this.dtabOf = base;
      this.dtab = this.local === undefined || this.local.isEmpty ? base : base.concat(this.local);
    }
    return this.dtab;
  }

  run(): void {
    // Re-entered from a namer change while running (or while our observers react to what we
    // published): go round again after this pass rather than interleave, so observers always
    // hear states in order and end with the latest.
    if (this.running) {
      this.dirty = true;
      return;
    }
    this.running = true;
    try {
      // Bounded, so a namer that answers differently on every read cannot spin us here forever.
      for (let round = 0; round < 100; round++) {
        if (this.closed) return;
        this.dirty = false;
        this.used = new Set();
        let state: State<BoundTree>;
        try {
          this.currentDtab();
          this.lookups = 0;
          state = this.bindPath(this.path, 0, undefined);
        } catch (e) {
          state = failed(asError(e));
        }
        for (const [activity, observation] of this.observed) {
          if (!this.used.has(activity)) {
            this.observed.delete(activity);
            observation.close();
          }
        }
        this.views.sweep();
        publish(this.out, state);
        if (!this.dirty) return;
      }
      queueMicrotask(() => this.run());
    } finally {
      this.running = false;
    }
  }

  close(): void {
    this.closed = true;
    for (const observation of this.observed.values()) observation.close();
    this.observed.clear();
    this.views.close();
  }

  /** The current value of an input (a namer's answer, the base dtab), keeping it observed. */
  private read<T>(input: Var<T>): T {
    const a = input as Var<unknown>;
    this.used.add(a);
    if (!this.observed.has(a)) {
      this.subscribing = a;
      try {
        this.observed.set(
          a,
          a.observe(() => {
            if (!this.closed && this.subscribing !== a) this.run();
          }),
        );
      } finally {
        this.subscribing = undefined;
      }
    }
    return input.sample;
  }

  private lookup(path: Path): State<NameTree<Name>> {
    const step = this.interpreter.step(this.dtab, path);
    if (step.from === 'dtab') return ok(step.tree);
    let last: State<NameTree<Name>> = ok(Neg);
    for (const c of step.candidates) {
      let activity: Activity<NameTree<Name>>;
      try {
        activity = c.namer.lookup(c.path);
      } catch (e) {
        return failed(asError(e));
      }
      last = this.read(activity);
      if (!fallsThrough(outcomeOfState(last))) return last;
    }
    return last;
  }

  private bindPath(path: Path, depth: number, weight: number | undefined): State<BoundTree> {
    if (depth > this.interpreter.maxDepth) return failed(new NamerMaxDepthError(this.interpreter.maxDepth));
    // Thrown, not a failed branch: a Union would keep its other branches and bind a part of the tree.
    if (++this.lookups > this.interpreter.maxLookups) throw new NamerMaxLookupsError(this.interpreter.maxLookups);
    const looked = this.lookup(path);
    if (looked.status !== 'ok') return looked;
    return this.bindTree(looked.value, depth + 1, weight);
  }

  /** `weight`: the weight of the Union branch we are under, if any (recorded on bound address sets). */
  private bindTree(tree: NameTree<Name>, depth: number, weight: number | undefined): State<BoundTree> {
    if (depth > this.interpreter.maxDepth) return failed(new NamerMaxDepthError(this.interpreter.maxDepth));
    switch (tree.kind) {
      case 'leaf':
        if (tree.value.kind === 'bound') {
          return ok(weight === undefined ? (tree as NameTree<BoundName>) : { kind: 'leaf', value: this.views.get(tree.value, weight) });
        }
        return this.bindPath(tree.value.path, depth, weight);
      case 'fail':
      case 'neg':
      case 'empty':
        return ok(tree);
      case 'union': {
        const trees = tree.trees;
        if (trees.length === 0) return ok(Neg);
        if (trees.length === 1) return this.bindTree(trees[0]!.tree, depth, trees[0]!.weight);
        const kept: Weighted<BoundName>[] = [];
        const outcomes: Outcome[] = [];
        let firstFailure: State<BoundTree> | undefined;
        let waiting: Extract<State<BoundTree>, { status: 'pending' }> | undefined;
        for (const w of trees) {
          const s = this.bindTree(w.tree, depth, w.weight);
          const o = outcomeOfState(s);
          outcomes.push(o);
          if (keptByUnion(o)) kept.push({ weight: w.weight, tree: (s as { value: BoundTree }).value });
          else if (s.status === 'failed') firstFailure ??= s;
          else if (s.status === 'pending' && waiting?.why === undefined) waiting = s;
        }
        switch (unionOutcome(outcomes)) {
          case 'neg':
            return ok(Neg);
          case 'error':
            return firstFailure!;
          case 'pending':
            // The branch that says why it waits, if one does.
            return waiting ?? PENDING;
          default:
            return ok(simplify<BoundName>({ kind: 'union', trees: kept }));
        }
      }
      case 'alt': {
        const trees = tree.trees;
        if (trees.length === 0) return ok(Neg);
        for (const child of trees) {
          const s = this.bindTree(child, depth, weight);
          if (!fallsThrough(outcomeOfState(s))) return s;
        }
        return ok(Neg);
      }
    }
  }
}

/** Set the binding's new state unless it is the same as before (so observers hear only of real changes). */
function publish(out: Var<State<BoundTree>>, next: State<BoundTree>): void {
  const prev = out.sample;
  if (sameBindingState(prev, next)) return;
  out.set(next);
}

/** Whether two binding states say the same (same status, error message, or tree of the same bound names). */
export function sameBindingState(a: State<BoundTree>, b: State<BoundTree>): boolean {
  if (a.status !== b.status) return false;
  if (a.status === 'pending') return a.why === (b as typeof a).why;
  if (a.status === 'failed') return a.error.message === (b as typeof a).error.message;
  return treeEquals(a.value, (b as typeof a).value, sameBound);
}

function sameBound(a: BoundName, b: BoundName): boolean {
  return a === b || (a.addr === b.addr && a.id.equals(b.id) && a.residual.equals(b.residual));
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}
