import { whyPending } from '../util/activity.js';
import type { Var } from '../util/var.js';
import type { Dentry, Dtab } from './dtab.js';
import type { NameInterpreter, NamerCandidate } from './interpreter.js';
import type { Addr, BoundName, Name } from './name.js';
import { Neg, type NameTree } from './nametree.js';
import { fallsThrough, outcomeOfState } from './route.js';
import type { DelegateAddr, DelegateBound, DelegateDentry, DelegateNode } from './delegate-node.js';
import { Path } from './path.js';
import { showNameTree } from './show.js';

export type { DelegateAddr, DelegateBound, DelegateDentry, DelegateNode } from './delegate-node.js';

export interface DelegateOptions {
  /** When to stop waiting for namer answers and address sets (`Date.now()` time). Wins over `timeoutMs`. */
  deadline?: number;
  /** The same, relative to now (Linkerd: 2 s). Default 2000. */
  timeoutMs?: number;
  /** Nodes the tree may have (DelegateTreeSizeError past it). Default DELEGATION_MAX_NODES. */
  maxNodes?: number;
  /** Bytes its JSON may take, about (DelegateTreeSizeError past it). Default DELEGATION_MAX_BYTES. */
  maxBytes?: number;
}

/**
 * The delegation did not settle in time (Linkerd answers 503 `Request timed out.`); `why` is what the
 * pending namer answer said of why it still waits, when it did (clipped: see whyPending).
 */
export class DelegateTimeoutError extends Error {
  override readonly name = 'DelegateTimeoutError';
  constructor(readonly why?: string) {
    super(why === undefined ? 'Request timed out.' : `Request timed out. (${why})`);
  }
}

/** More rewrites while delegating than the interpreter allows when binding (its `maxDepth`, default 100). */
export class DelegateDepthError extends Error {
  override readonly name = 'DelegateDepthError';
  constructor() {
    super('Max recursion level reached.');
  }
}

/**
 * Lookups a delegation may make, as a multiple of a binding's (`maxLookups`): it explores every
 * Alternative's branches, where binding stops at the first that binds, so it needs more.
 */
export const DELEGATION_LOOKUPS_FACTOR = 10;

/**
 * Dentries a delegation may test, over all its lookups: each lookup scans the whole dtab, so a
 * dtab of 4,000 dentries took 2,000 lookups in ~420 ms (64 KiB holds 8,000). Through a dtab of over 50
 * dentries, this allows fewer lookups than DELEGATION_LOOKUPS_FACTOR does (80 through 1,250).
 */
export const DELEGATION_MAX_DENTRY_SCANS = 100_000;

/** The lookups a delegation through `dtab` may make: a binding's times DELEGATION_LOOKUPS_FACTOR, fewer through a long dtab. */
export function delegationLookups(maxLookups: number, dtab: Dtab): number {
  return Math.min(maxLookups * DELEGATION_LOOKUPS_FACTOR, Math.floor(DELEGATION_MAX_DENTRY_SCANS / Math.max(1, dtab.size)));
}

/** More lookups while delegating than delegationLookups allows (2,000 by default, fewer through a dtab of over 50 dentries). */
export class DelegateLookupsError extends Error {
  override readonly name = 'DelegateLookupsError';
  /** `dentries`: the dtab's length, named when it is what limits the lookups. */
  constructor(maxLookups: number, dentries?: number) {
    const through = dentries === undefined ? '' : ` through ${dentries} dentries`;
    super(`Delegation needs more than ${maxLookups} lookups${through}: the dtab's alternatives and unions multiply`);
  }
}

/**
 * The delegation tree's size. Lookups do not bound it: one dentry's alternatives make a node each,
 * and each node repeats its dentry's text, so a 14 KB dtab made an 18.7 MB tree in ~580 ms. The
 * tree is counted as it is built, so the work stops at the bound; the largest tree these defaults
 * take costs 2-6 ms of CPU (see README, Limits).
 */
export const DELEGATION_MAX_NODES = 250;
export const DELEGATION_MAX_BYTES = 256 * 1024;

/** The delegation tree would pass `maxNodes` nodes or about `maxBytes` bytes of JSON. */
export class DelegateTreeSizeError extends Error {
  override readonly name = 'DelegateTreeSizeError';
  constructor(
    readonly bound: 'nodes' | 'bytes',
    readonly limit: number,
    path: Path,
  ) {
    super(`Delegating ${path.show()} makes a tree of more than ${bound === 'nodes' ? `${limit} nodes` : `${limit} bytes`}: the dtab's alternatives and unions multiply`);
  }
}

/** JSON a node takes besides its path and dentry: its keys, type and `routing` (about 140 bytes). */
const NODE_JSON_BYTES = 200;
/** JSON an address of a bound leaf takes, about (ip, port and a little metadata). */
const ADDR_JSON_BYTES = 100;

/** What the tree holds so far, against its bounds; each dentry is shown once, for every node it led to. */
class TreeSize {
  private nodes = 0;
  private bytes = 0;
  private readonly shownDentries = new Map<Dentry, DelegateDentry>();

  constructor(
    private readonly path: Path,
    private readonly maxNodes: number,
    private readonly maxBytes: number,
  ) {}

  /** One more node at `pathBytes`, led to by `dentry`. */
  node(pathBytes: number, dentry: D): void {
    if (++this.nodes > this.maxNodes) throw new DelegateTreeSizeError('nodes', this.maxNodes, this.path);
    if (dentry === null) return this.add(NODE_JSON_BYTES + pathBytes);
    const shown = this.shown(dentry);
    this.add(NODE_JSON_BYTES + pathBytes + shown.prefix.length + shown.dst.length);
  }

  add(bytes: number): void {
    this.bytes += bytes;
    if (this.bytes > this.maxBytes) throw new DelegateTreeSizeError('bytes', this.maxBytes, this.path);
  }

  shown(dentry: Dentry): DelegateDentry {
    let shown = this.shownDentries.get(dentry);
    if (shown === undefined) this.shownDentries.set(dentry, (shown = { prefix: dentry.prefix.show(), dst: showNameTree(dentry.dst) }));
    return shown;
  }
}

const FAIL_PREFIX = Path.of('$', 'fail');

// ---- The delegation tree (Linkerd's DelegateTree) --------------------------------------------

/** `null` is Linkerd's no-op dentry (the root's). */
type D = Dentry | null;

type DTree =
  | { kind: 'delegate'; path: Path; dentry: D; tree: DTree }
  | { kind: 'alt'; path: Path; dentry: D; trees: DTree[] }
  | { kind: 'union'; path: Path; dentry: D; trees: { weight: number; tree: DTree }[] }
  | { kind: 'leaf'; path: Path; dentry: D; value: Name }
  | { kind: 'neg' | 'fail' | 'empty'; path: Path; dentry: D }
  | { kind: 'exception'; path: Path; dentry: D; error: Error };

/**
 * Explain how `path` delegates through `dtab` with the interpreter's namers: every step, every
 * dentry used, and where each branch ends. Unlike binding it explores all Alt branches. Namer
 * answers and address sets are awaited until they are no longer pending, for at most `timeoutMs`
 * (a namer still pending then rejects with DelegateTimeoutError; an address set still pending
 * shows as `{"type":"pending"}`).
 */
export async function delegate(
  interpreter: NameInterpreter,
  dtab: Dtab,
  path: Path,
  options: DelegateOptions = {},
): Promise<DelegateNode> {
  const deadline = options.deadline ?? Date.now() + (options.timeoutMs ?? 2000);
  const size = new TreeSize(path, options.maxNodes ?? DELEGATION_MAX_NODES, options.maxBytes ?? DELEGATION_MAX_BYTES);
  const waits = new Waits(deadline);
  const d = new Delegation(interpreter, dtab, waits, size);
  try {
    const tree = await d.bind({ kind: 'leaf', path: Path.empty, dentry: null, value: { kind: 'path', path } }, 0);
    return await toJson(simplifyDelegation(tree), waits, size);
  } finally {
    // Answered or refused (a bound reached in one branch): the other branches wait for nothing more.
    waits.end();
  }
}

class Delegation {
  /** Lookups so far, over every branch (bounded like a binding's). */
  private lookups = 0;
  private readonly maxLookups: number;

  constructor(
    private readonly interpreter: NameInterpreter,
    private readonly dtab: Dtab,
    private readonly waits: Waits,
    private readonly size: TreeSize,
  ) {
    this.maxLookups = delegationLookups(interpreter.maxLookups, dtab);
  }

  async bind(tree: DTree, depth: number): Promise<DTree> {
    // The same limit binding uses, so the delegator never explains a name the router would refuse (or the reverse).
    if (depth > this.interpreter.maxDepth) throw new DelegateDepthError();
    switch (tree.kind) {
      case 'leaf':
        if (tree.value.kind === 'bound') return tree;
        // The whole delegation ends: a branch's exception would let every other branch go on multiplying.
        if (++this.lookups > this.maxLookups) {
          throw new DelegateLookupsError(this.maxLookups, this.maxLookups < this.interpreter.maxLookups * DELEGATION_LOOKUPS_FACTOR ? this.dtab.size : undefined);
        }
        return this.bind(await this.lookup(tree.dentry, tree.value.path), depth + 1);
      case 'delegate':
        return { ...tree, tree: await this.bind(tree.tree, depth) };
      case 'alt':
        if (tree.trees.length === 0) return { kind: 'neg', path: tree.path, dentry: tree.dentry };
        if (tree.trees.length === 1) return { kind: 'delegate', path: tree.path, dentry: tree.dentry, tree: await this.bind(tree.trees[0]!, depth) };
        return { ...tree, trees: await Promise.all(tree.trees.map((t) => this.branch(tree, t, depth))) };
      case 'union':
        if (tree.trees.length === 0) return { kind: 'neg', path: tree.path, dentry: tree.dentry };
        if (tree.trees.length === 1) return { kind: 'delegate', path: tree.path, dentry: tree.dentry, tree: await this.bind(tree.trees[0]!.tree, depth) };
        return {
          ...tree,
          trees: await Promise.all(tree.trees.map(async (w) => ({ weight: w.weight, tree: await this.branch(tree, w.tree, depth) }))),
        };
      default:
        return tree;
    }
  }

  /**
   * One branch of an Alt or Union. As in Linkerd, a branch that fails (a dtab loop, say) becomes an
   * exception node carrying the Alt/Union's path and dentry, and the other branches are still shown;
   * running out of time still ends the whole delegation.
   */
  private async branch(parent: DTree, child: DTree, depth: number): Promise<DTree> {
    try {
      return await this.bind(child, depth);
    } catch (e) {
      if (e instanceof DelegateTimeoutError || e instanceof DelegateLookupsError || e instanceof DelegateTreeSizeError) throw e;
      return { kind: 'exception', path: parent.path, dentry: parent.dentry, error: e instanceof Error ? e : new Error(String(e)) };
    }
  }

  /**
   * One lookup step, the interpreter's: the matching dentries (latest first); when they say Neg,
   * the namers, exactly as binding asks them. A lone `p => ~` that no namer answers either shows as
   * its dentry leading to `~`.
   */
  private async lookup(dentry: D, path: Path): Promise<DTree> {
    const step = this.interpreter.step(this.dtab, path);
    const pathBytes = path.show().length;
    // The node this lookup makes (a Delegate or an Alt of the matches; a namer's answer instead replaces it).
    this.size.node(pathBytes, dentry);
    const matched = step.matches.map((m) => fromNameTree(path, m.dentry, m.tree, (n: Name) => n, () => this.size.node(pathBytes, m.dentry)));
    if (step.from === 'dtab') {
      return matched.length === 1 ? { kind: 'delegate', path, dentry, tree: matched[0]! } : { kind: 'alt', path, dentry, trees: matched };
    }
    let tree: NameTree<Name>;
    try {
      tree = await this.askNamers(step.candidates);
    } catch (e) {
      if (e instanceof DelegateTimeoutError) throw e;
      return { kind: 'exception', path, dentry, error: e instanceof Error ? e : new Error(String(e)) };
    }
    // Outside the try: the tree's bounds end the delegation, they are not the namers' failure.
    if (tree.kind !== 'neg') return fromNameTree(path, dentry, tree, (n) => n, () => this.size.node(pathBytes, dentry));
    if (matched.length === 1) return { kind: 'delegate', path, dentry, tree: matched[0]! };
    return { kind: 'neg', path, dentry };
  }

  private async askNamers(candidates: readonly NamerCandidate[]): Promise<NameTree<Name>> {
    for (const c of candidates) {
      const state = await this.waits.first(c.namer.lookup(c.path), (s) => s.status !== 'pending');
      if (state.status === 'pending') throw new DelegateTimeoutError(whyPending(state));
      if (state.status === 'failed') throw state.error;
      if (!fallsThrough(outcomeOfState(state))) return state.value;
    }
    return Neg;
  }
}

/** `counted` is called for each node before it is made, so a bound stops the walk. */
function fromNameTree<T>(path: Path, dentry: D, tree: NameTree<T>, name: (value: T) => Name, counted: () => void): DTree {
  counted();
  switch (tree.kind) {
    case 'empty':
    case 'fail':
      return { kind: tree.kind, path, dentry };
    case 'neg':
      // An explicit `~` shows as `~`: its path is the empty one.
      return { kind: 'neg', path: Path.empty, dentry };
    case 'leaf':
      return { kind: 'leaf', path, dentry, value: name(tree.value) };
    case 'alt':
      return { kind: 'alt', path, dentry, trees: tree.trees.map((t) => fromNameTree(path, dentry, t, name, counted)) };
    case 'union':
      return {
        kind: 'union',
        path,
        dentry,
        trees: tree.trees.map((w) => ({ weight: w.weight, tree: fromNameTree(path, dentry, w.tree, name, counted) })),
      };
  }
}

/**
 * Linkerd's DelegateTree.simplify: a Delegate whose child has the same path collapses into that
 * child, which then carries the Delegate's dentry (a Neg, Fail or Empty child is kept under its
 * Delegate, so the step that led to it stays visible); nested Alts of one path merge.
 */
function simplifyDelegation(tree: DTree): DTree {
  switch (tree.kind) {
    case 'delegate': {
      const s = simplifyDelegation(tree.tree);
      const terminal = s.kind === 'neg' || s.kind === 'fail' || s.kind === 'empty';
      return !terminal && s.path.equals(tree.path) ? { ...s, dentry: tree.dentry } : { ...tree, tree: s };
    }
    case 'alt': {
      if (tree.trees.length === 0) return { kind: 'neg', path: tree.path, dentry: tree.dentry };
      if (tree.trees.length === 1) return simplifyDelegation({ kind: 'delegate', path: tree.path, dentry: tree.dentry, tree: tree.trees[0]! });
      const out: DTree[] = [];
      for (const t of tree.trees) {
        const s = simplifyDelegation(t);
        if (s.kind === 'alt' && s.path.equals(tree.path)) out.push(...s.trees);
        else out.push(s);
      }
      return { ...tree, trees: out };
    }
    case 'union':
      if (tree.trees.length === 0) return { kind: 'neg', path: tree.path, dentry: tree.dentry };
      if (tree.trees.length === 1) return simplifyDelegation({ kind: 'delegate', path: tree.path, dentry: tree.dentry, tree: tree.trees[0]!.tree });
      return { ...tree, trees: tree.trees.map((w) => ({ weight: w.weight, tree: simplifyDelegation(w.tree) })) };
    default:
      return tree;
  }
}

// ---- JSON ------------------------------------------------------------------------------------

async function toJson(tree: DTree, waits: Waits, size: TreeSize): Promise<DelegateNode> {
  const path = tree.path.show();
  const dentry = tree.dentry === null ? undefined : size.shown(tree.dentry);
  // Key order as Linkerd's Jackson output: type, path, dentry, then the payload.
  const head = <K extends DelegateNode['type']>(type: K) => (dentry === undefined ? { type, path } : { type, path, dentry });
  switch (tree.kind) {
    case 'delegate':
      return { ...head('delegate'), delegate: await toJson(tree.tree, waits, size) };
    case 'alt':
      return { ...head('alt'), alt: await Promise.all(tree.trees.map((t) => toJson(t, waits, size))) };
    case 'union':
      return {
        ...head('union'),
        union: await Promise.all(tree.trees.map(async (w) => ({ weight: w.weight, tree: await toJson(w.tree, waits, size) }))),
      };
    case 'leaf': {
      const name = tree.value;
      if (name.kind !== 'bound') return { ...head('neg') };
      return { ...head('leaf'), bound: await boundJson(name, waits, size) };
    }
    case 'neg':
      return dentry === undefined
        ? { type: 'neg', path: tree.path.isEmpty ? '~' : path }
        : { type: 'neg', path: tree.path.isEmpty ? '~' : path, dentry };
    case 'fail': {
      const shown = tree.path.startsWith(FAIL_PREFIX) ? path : '!';
      return dentry === undefined ? { type: 'fail', path: shown } : { type: 'fail', path: shown, dentry };
    }
    case 'empty':
      return { ...head('empty') };
    case 'exception':
      return { ...head('exception'), message: tree.error.message };
  }
}

async function boundJson(name: BoundName, waits: Waits, size: TreeSize): Promise<DelegateBound> {
  const addr = await waits.first(name.addr, (a) => a.type !== 'pending');
  // A bound leaf shows every address of its set: a large Service, once per leaf that binds to it.
  if (addr.type === 'bound') size.add(addr.addrs.length * ADDR_JSON_BYTES);
  return { addr: addrJson(addr), id: name.id.show(), path: name.residual.show() };
}

/** Linkerd's Addr JSON. An address with a weight other than 1 carries Finagle's `endpoint_addr_weight`. */
export function addrJson(addr: Addr): DelegateAddr {
  switch (addr.type) {
    case 'bound':
      return {
        type: 'bound',
        addrs: addr.addrs.map((a) => ({
          ip: a.host,
          port: a.port,
          meta: a.weight === 1 ? { ...a.meta } : { ...a.meta, endpoint_addr_weight: a.weight },
        })),
        meta: { ...addr.meta },
      };
    case 'failed':
      return { type: 'failed', cause: addr.cause };
    case 'neg':
      return { type: 'neg' };
    case 'pending':
      return { type: 'pending' };
  }
}

// ---- Waiting for answers ---------------------------------------------------------------------

/**
 * A delegation's waits for namer answers and address sets: each gives the first value that is done,
 * or the value it has when the deadline passes, or at once when the delegation ends first (a bound
 * reached in another branch). Its observation closes then, as any abandoned ask's does, so no namer
 * keeps discovering for a delegation already answered.
 */
class Waits {
  private readonly open = new Set<() => void>();
  private ended = false;

  constructor(private readonly deadline: number) {}

  first<T>(v: Var<T>, done: (value: T) => boolean): Promise<T> {
    return new Promise((resolve) => {
      let finished = false;
      let timer: NodeJS.Timeout | undefined;
      let observation: { close(): void } | undefined;
      const finish = (value: T) => {
        if (finished) return;
        finished = true;
        this.open.delete(giveUp);
        if (timer !== undefined) clearTimeout(timer);
        // Closing inside the observer callback is fine: Var copies its observers before notifying.
        queueMicrotask(() => observation?.close());
        resolve(value);
      };
      const giveUp = () => finish(v.sample);
      if (this.ended) return giveUp();
      observation = v.observe((value) => {
        if (done(value)) finish(value);
      });
      if (finished) return;
      const wait = this.deadline - Date.now();
      if (wait <= 0) return giveUp();
      timer = setTimeout(giveUp, wait);
      this.open.add(giveUp);
    });
  }

  /** The delegation is over: every wait still open gives up now. */
  end(): void {
    this.ended = true;
    for (const giveUp of [...this.open]) giveUp();
  }
}
