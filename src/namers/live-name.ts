import type { Activity, ActivityState } from '../util/activity.js';
import { ok, pending } from '../util/activity.js';
import { Var } from '../util/var.js';
import type { Addr, Address, BoundName, Name } from '../dtab/name.js';
import { addressKey } from '../dtab/name.js';
import type { NameTree } from '../dtab/nametree.js';
import { Neg, leaf } from '../dtab/nametree.js';
import type { Path } from '../dtab/path.js';

/** Whether a discovered name exists: still finding out, no (Neg, so dtab fallbacks apply), or yes. */
export type Existence = 'pending' | 'neg' | 'bound';

/** Starts discovery for one name and reports into the LiveName; returns the function that stops it. */
export type NameSource = (sink: LiveName) => () => void;

const OK_NEG: ActivityState<NameTree<Name>> = Object.freeze(ok(Neg));
const ADDR_PENDING: Addr = Object.freeze({ type: 'pending' });
const ADDR_NEG: Addr = Object.freeze({ type: 'neg' });

/** Who decides how long a name lives once used: its entry in a namer's table (`NameTable`). */
export interface NameHolder {
  acquire(): void;
  release(): void;
}

/**
 * One discovered name (a Kubernetes service port, a DNS host, a file): the two separate signals
 * Linkerd keeps apart — existence (the Activity the binder observes: pending / Neg / a bound leaf) and
 * the address set (the bound name's `addr` Var the balancer observes). Endpoint churn only touches
 * `addr`, so the bound tree is never rebuilt because a pod came or went.
 *
 * Discovery starts when the first observer of either signal arrives. How long it runs after the last
 * leaves is its holder's business (the namer's table and its idle TTL); `close` stops it. Without a
 * holder, it stops when the last observer leaves.
 */
export class LiveName {
  readonly addr: Var<Addr>;
  private existence: Existence = 'pending';
  private signature = '';
  private stop: (() => void) | undefined;
  private readonly holder: NameHolder;
  private readonly listeners = new Set<() => void>();
  private readonly activities = new Map<string, Activity<NameTree<Name>>>();
  private error: string | undefined;
  /** What binding sees while the name is pending: why, when there is a last error. */
  private pendingState: ActivityState<NameTree<Name>> = pending(undefined);

  constructor(
    readonly id: Path,
    private readonly source: NameSource,
    holder?: NameHolder,
  ) {
    this.holder = holder ?? stopWhenUnobserved(this);
    this.addr = new Var<Addr>(ADDR_PENDING, () => {
      this.acquire();
      return () => this.release();
    });
  }

  get state(): Existence {
    return this.existence;
  }

  /** A short human note on the last problem (shown in namer state, and in a pending binding's `why`), or undefined. */
  get lastError(): string | undefined {
    return this.error;
  }

  set lastError(error: string | undefined) {
    if (error === this.error) return;
    this.error = error;
    this.pendingState = pending(error === undefined ? undefined : `${this.id.show()}: ${error}`);
    // A pending name's binders hear why it still waits (a call timing out names it).
    if (this.existence === 'pending') for (const listener of [...this.listeners]) listener();
  }

  /** Discovery is running. */
  get active(): boolean {
    return this.stop !== undefined;
  }

/** The Activity for this name with `residual` left over; the same object for the same residual. */
  lookup(residual: Path): Activity<NameTree<Name>> {
    const key = residual.show();
    let activity = this.activities.get(key);
    if (activity) return activity;
    const bound: BoundName = { kind: 'bound', id: this.id, addr: this.addr, residual };
    const okLeaf = ok<NameTree<Name>>(leaf<Name>(bound));
    const stateNow = (): ActivityState<NameTree<Name>> =>
      this.existence === 'pending' ? this.pendingState : this.existence === 'neg' ? OK_NEG : okLeaf;
    // Starts from what is known now, so a name already discovered answers even before it is observed.
    activity = new Var<ActivityState<NameTree<Name>>>(stateNow(), (self) => {
      const listener = () => self.set(stateNow());
      this.listeners.add(listener);
      this.acquire();
      listener();
      return () => {
        this.listeners.delete(listener);
        this.release();
      };
    });
    // Residuals come from requests; keep only a bounded number of distinct ones cached.
    if (this.activities.size < 256) this.activities.set(key, activity);
    return activity;
  }

  /** The source reports what it knows now; unchanged answers notify nobody. */
  update(existence: Existence, addrs: readonly Address[] = [], meta: Readonly<Record<string, unknown>> = {}): void {
    const signature = existence === 'bound' ? addrSignature(addrs) : existence;
    if (existence !== this.existence) {
      this.existence = existence;
      this.signature = signature;
      this.addr.set(toAddr(existence, addrs, meta));
      for (const listener of [...this.listeners]) listener();
      return;
    }
    if (signature === this.signature) return;
    this.signature = signature;
    this.addr.set(toAddr(existence, addrs, meta));
  }

  /** A bound name whose address set could not be worked out (e.g. a malformed file never read well). */
  fail(cause: string): void {
    const wasBound = this.existence === 'bound';
    this.existence = 'bound';
    // Bound first: the cause is the failed address set's, no pending binder needs telling of it.
    this.lastError = cause;
    if (!wasBound) for (const listener of [...this.listeners]) listener();
    this.signature = 'failed:' + cause;
    this.addr.set({ type: 'failed', cause });
  }

  private acquire(): void {
    this.holder.acquire();
    // Also after `close`: a name used again through an old reference discovers again.
    this.stop ??= this.source(this);
  }

  private release(): void {
    this.holder.release();
  }

  /** Stop discovery now whatever the observers (its table let it go, or the namer closed). */
  close(): void {
    const stop = this.stop;
    this.stop = undefined;
    stop?.();
  }
}

function stopWhenUnobserved(name: LiveName): NameHolder {
  let refs = 0;
  return {
    acquire: () => void refs++,
    release: () => {
      if (--refs === 0) name.close();
    },
  };
}

function toAddr(existence: Existence, addrs: readonly Address[], meta: Readonly<Record<string, unknown>>): Addr {
  if (existence === 'pending') return ADDR_PENDING;
  if (existence === 'neg') return ADDR_NEG;
  return { type: 'bound', addrs, meta };
}

function addrSignature(addrs: readonly Address[]): string {
  let out = 'bound';
  for (const a of addrs) {
    out += '|' + addressKey(a) + '*' + a.weight;
    for (const k of Object.keys(a.meta).sort()) out += ';' + k + '=' + a.meta[k];
  }
  return out;
}
