import type { Addr, BoundName } from '../dtab/name.js';
import type { NameTree } from '../dtab/nametree.js';
import type { Path } from '../dtab/path.js';
import type { Activity, ActivityState } from '../util/activity.js';
import { Var, type Closable } from '../util/var.js';
import { realClock, type Clock } from '../util/clock.js';
import { sameServers, serverList, type LbServer } from './server-list.js';

/**
 * What grpclb clients of one name are told:
 * - `pending`: nothing yet (the binding or its discovery has not answered);
 * - `neg`: the name routes nowhere (the dtab and namers give Neg): a router call would fail "no route";
 * - `failed`: binding failed (a dtab loop, a namer error) or the dtab says `!`;
 * - `list`: these servers (possibly none: the name exists but has no ready endpoints).
 */
export type FeedState =
  | { readonly kind: 'pending' }
  | { readonly kind: 'neg'; readonly message: string }
  | { readonly kind: 'failed'; readonly message: string }
  | { readonly kind: 'list'; readonly servers: readonly LbServer[]; readonly skipped: readonly string[] };

const PENDING_FEED: FeedState = Object.freeze({ kind: 'pending' });

export interface NameFeedOptions {
  /** A leaf whose discovery has not answered for this long is left out and the rest is sent (the router's bindingTimeoutMs). */
  bindingTimeoutMs: number;
  /** The dtab the name was bound through, for messages. */
  dtabText: () => string;
  /** The binding timeout's time (tests); default the real clock. */
  clock?: Clock;
}

/**
 * The live grpclb view of one logical name (`/svc/<name>`): it observes the name's binding and the
 * address set of every leaf of the bound tree, and republishes a server list whenever either
 * changes, so a pod that leaves discovery leaves the list in the same turn of the event loop.
 * Observers (the client streams asking for this name) hear a new state only when it differs.
 */
export class NameFeed {
  readonly state: Var<FeedState> = new Var<FeedState>(PENDING_FEED);
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
    private readonly options: NameFeedOptions,
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
        return this.publish({ kind: 'neg', message: `no route to ${this.path.show()}: it binds to Neg (no dtab rule or namer knows it) through dtab ${clip(this.options.dtabText())}` });
      case 'fail':
        this.observeLeaves([]);
        return this.publish({ kind: 'failed', message: `no route to ${this.path.show()}: the dtab fails it (!)` });
      default:
        break;
    }
    this.observeLeaves(leaves(tree));
    const result = serverList(tree);
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
        if (this.state.sample.kind === 'list') return;
        return this.publish(PENDING_FEED);
      }
    } else this.clearPending();
    this.publish({ kind: 'list', servers: result.servers, skipped: result.skipped });
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

  private publish(next: FeedState): void {
    if (sameFeed(this.state.sample, next)) return;
    this.state.set(next);
  }
}

/** Every bound leaf of a tree. */
function leaves(tree: NameTree<BoundName>): BoundName[] {
  switch (tree.kind) {
    case 'leaf':
      return [tree.value];
    case 'union':
      return tree.trees.flatMap((b) => leaves(b.tree));
    case 'alt':
      return tree.trees.flatMap(leaves);
    default:
      return [];
  }
}

function sameFeed(a: FeedState, b: FeedState): boolean {
  if (a.kind !== b.kind) return false;
  switch (a.kind) {
    case 'pending':
      return true;
    case 'neg':
    case 'failed':
      return a.message === (b as typeof a).message;
    case 'list':
      return sameServers(a.servers, (b as typeof a).servers);
  }
}

function clip(text: string): string {
  return text.length > 500 ? `${text.slice(0, 500)}…` : text;
}
