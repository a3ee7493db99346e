import type { Dtab } from './dtab.js';
import type { NameInterpreter } from './interpreter.js';
import type { Addr, BoundName } from './name.js';
import type { NameTree } from './nametree.js';
import type { Path } from './path.js';
import { leaves } from './tree.js';
import type { Activity, ActivityState } from '../util/activity.js';
import { Var, type Closable } from '../util/var.js';
import { realClock, type Clock } from '../util/clock.js';
import { clip } from '../util/clip.js';

/**
 * What the followers of one name (grpclb or xDS clients) are told:
 * - `pending`: nothing yet (the binding or its discovery has not answered);
 * - `neg`: the name routes nowhere (the dtab and namers give Neg): a router call would fail "no route";
 * - `failed`: binding failed (a dtab loop, a namer error) or the dtab says `!`;
 * - `bound`: the view of the bound tree (a server list, routes, endpoints: see NameFeedOptions.view).
 */
export type FeedState<T> =
  | { readonly kind: 'pending' }
  | { readonly kind: 'neg'; readonly message: string }
  | { readonly kind: 'failed'; readonly message: string }
  | { readonly kind: 'bound'; readonly value: T };

const PENDING_FEED: FeedState<never> = Object.freeze({ kind: 'pending' });

/** How the names clients follow (grpclb, xDS) are bound: through a router's routing table and timeouts. */
export interface NameBindingDeps {
  interpreter: NameInterpreter;
  /** The router's dtab, live file included: names bind through exactly what its calls bind through. */
  dtab: Var<Dtab>;
  /** The router's dstPrefix (`/svc`): a name `n` binds as `<dstPrefix>/n`. */
  dstPrefix: Path;
  /** A leaf whose discovery has not answered for this long is left out (the router's bindingTimeoutMs). */
  bindingTimeoutMs: number;
  /** How long a name nobody asks for keeps its binding (the router's bindingCache TTLs)… */
  idleTtlMs: number;
  /** …and one that does not exist or failed to bind. */
  transientIdleTtlMs: number;
}

/** What a follower sees of a bound tree, and whether some leaf's discovery has yet to answer. */
export interface FeedView<T> {
  readonly value: T;
  readonly pending: boolean;
}

export interface NameFeedOptions<T> {
  /** A leaf whose discovery has not answered for this long is left out and the rest is sent (the router's bindingTimeoutMs). */
  bindingTimeoutMs: number;
  /** The dtab the name was bound through, for messages. */
  dtabText: () => string;
  /** The view followers get of a bound tree (it reads the leaves' address sets as they are now). */
  view: (tree: NameTree<BoundName>) => FeedView<T>;
  /** Whether two views say the same (only a difference is published). */
  same: (a: T, b: T) => boolean;
  /** The binding timeout's time (tests); default the real clock. */
  clock?: Clock;
}

/**
 * The live view of one name: it observes the name's binding and the address set of every leaf of
 * the bound tree, and republishes its view (options.view) whenever either changes, so a pod that
 * leaves discovery leaves the view in the same turn of the event loop. Observers (the client
 * streams asking for this name) hear a new state only when it differs.
 */
export class NameFeed<T> {
  readonly state: Var<FeedState<T>> = new Var<FeedState<T>>(PENDING_FEED);
  private bindingObservation: Closable | undefined;
  private readonly addrs = new Map<Var<Addr>, Closable>();
  private tree: ActivityState<NameTree<BoundName>> = { status: 'pending' };
  /** While some leaf is pending: the timer that gives up waiting for it (its cancel), and whether it has. */
  private pendingTimer: (() => void) | undefined;
  private pendingTimedOut = false;
  private closed = false;
  private subscribing = false;

  constructor(
    readonly path: Path,
    private readonly binding: Activity<NameTree<BoundName>>,
    private readonly options: NameFeedOptions<T>,
  ) {
    this.bindingObservation = binding.observe((s) => {
      this.tree = s;
      this.update();
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.bindingObservation?.close();
    this.bindingObservation = undefined;
    for (const o of this.addrs.values()) o.close();
    this.addrs.clear();
    this.clearPending();
  }

  private update(): void {
    if (this.closed || this.subscribing) return;
    const s = this.tree;
    if (s.status === 'pending') return this.observeLeaves([]);
    if (s.status === 'failed') {
      this.observeLeaves([]);
      return this.publish({ kind: 'failed', message: `binding ${this.path.show()} failed: ${s.error.message}` });
    }
    const tree = s.value;
    switch (tree.kind) {
      case 'neg':
        this.observeLeaves([]);
        return this.publish({ kind: 'neg', message: `no route to ${this.path.show()}: it binds to Neg (no dtab rule or namer knows it) through dtab ${clip(this.options.dtabText(), 500)}` });
      case 'fail':
        this.observeLeaves([]);
        return this.publish({ kind: 'failed', message: `no route to ${this.path.show()}: the dtab fails it (!)` });
      default:
        break;
    }
    this.observeLeaves(leaves(tree));
    const result = this.options.view(tree);
    if (result.pending) {
      if (this.pendingTimer === undefined && !this.pendingTimedOut) {
        // The timer firing is what ends the wait: comparing clocks when it fires could find it a
        // fraction of a millisecond early, and then nothing would ever end it.
        this.pendingTimer = (this.options.clock ?? realClock).after(this.options.bindingTimeoutMs, () => {
          this.pendingTimer = undefined;
          this.pendingTimedOut = true;
          this.update();
        });
      }
      // Keep what clients have (a dtab change towards a name discovery is still looking up), unless
      // that has taken longer than a router call would wait.
      if (!this.pendingTimedOut) {
        if (this.state.sample.kind === 'bound') return;
        return this.publish(PENDING_FEED);
      }
    } else this.clearPending();
    this.publish({ kind: 'bound', value: result.value });
  }

  private clearPending(): void {
    this.pendingTimedOut = false;
    this.pendingTimer?.();
    this.pendingTimer = undefined;
  }

  /** Observe exactly these address sets (each change re-runs `update`). */
  private observeLeaves(bound: readonly BoundName[]): void {
    const wanted = new Set(bound.map((b) => b.addr));
    for (const [addr, o] of this.addrs) {
      if (!wanted.has(addr)) {
        o.close();
        this.addrs.delete(addr);
      }
    }
    for (const addr of wanted) {
      if (this.addrs.has(addr)) continue;
      // The first notification is synchronous and is the value update() is about to read.
      this.subscribing = true;
      try {
        this.addrs.set(addr, addr.observe(() => this.update()));
      } finally {
        this.subscribing = false;
      }
    }
  }

  private publish(next: FeedState<T>): void {
    if (sameFeed(this.state.sample, next, this.options.same)) return;
    this.state.set(next);
  }
}

/** Every bound leaf of a tree. */

function sameFeed<T>(a: FeedState<T>, b: FeedState<T>, same: (a: T, b: T) => boolean): boolean {
  if (a.kind !== b.kind) return false;
  switch (a.kind) {
    case 'pending':
      return true;
    case 'neg':
    case 'failed':
      return a.message === (b as typeof a).message;
    case 'bound':
      return same(a.value, (b as typeof a).value);
  }
}
