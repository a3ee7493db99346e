import type { Activity, ActivityState } from '../util/activity.js';
import { PENDING, ok } from '../util/activity.js';
import { Var } from '../util/var.js';
import type { Addr, Address, BoundName, Name } from '../dtab/name.js';
import { addressKey } from '../dtab/name.js';
import type { NameTree } from '../dtab/nametree.js';
import { Neg, leaf } from '../dtab/nametree.js';
import type { Path } from '../dtab/path.js';
import type { NamerReadiness } from './namer.js';

/** Whether a discovered name exists: still finding out, no (Neg, so dtab fallbacks apply), or yes. */
export type Existence = 'pending' | 'neg' | 'bound';

/** Starts discovery for one name and reports into the LiveName; returns the function that stops it. */
export type NameSource = (sink: LiveName) => () => void;

const OK_NEG: ActivityState<NameTree<Name>> = Object.freeze(ok(Neg));
/**
 * A name that does not exist stops discovery at most this long after its last user: clients can
 * name any number of non-existent things (an `l5d-dtab` override, a made-up service), and a Neg
 * name gives a re-bind nothing worth keeping warm.
 */
export const NEG_IDLE_TTL_MS = 5000;
const ADDR_PENDING: Addr = Object.freeze({ type: 'pending' });
const ADDR_NEG: Addr = Object.freeze({ type: 'neg' });

/**
 * One discovered name (a Kubernetes service port, a DNS host, a file): the two separate signals
 * Linkerd keeps apart — existence (the Activity the binder observes: pending / Neg / a bound leaf) and
 * the address set (the bound name's `addr` Var the balancer observes). Endpoint churn only touches
 * `addr`, so the bound tree is never rebuilt because a pod came or went.
 *
 * Discovery runs while anyone observes either signal, and stops `idleTtlMs` after the last leaves.
 */
export class LiveName {
  readonly addr: Var<Addr>;
  private existence: Existence = 'pending';
  private signature = '';
  private refs = 0;
  private stop: (() => void) | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly listeners = new Set<() => void>();
  private readonly activities = new Map<string, Activity<NameTree<Name>>>();
  /** A short human note on the last problem (shown in namer state), or undefined. */
  lastError: string | undefined;

  constructor(
    readonly id: Path,
    private readonly source: NameSource,
    private readonly idleTtlMs = 0,
    private readonly onIdle?: () => void,
  ) {
    this.addr = new Var<Addr>(ADDR_PENDING, () => {
      this.acquire();
      return () => this.release();
    });
  }

  get state(): Existence {
    return this.existence;
  }

  get active(): boolean {
    return this.stop !== undefined;
  }

  /** Nobody observes it (it may still be discovering, for its idle TTL). */
  get idle(): boolean {
    return this.refs === 0;
  }

  /** The Activity for this name with `residual` left over; the same object for the same residual. */
  lookup(residual: Path): Activity<NameTree<Name>> {
    const key = residual.show();
    let activity = this.activities.get(key);
    if (activity) return activity;
    const bound: BoundName = { kind: 'bound', id: this.id, addr: this.addr, residual };
    const okLeaf = ok<NameTree<Name>>(leaf<Name>(bound));
    const stateNow = (): ActivityState<NameTree<Name>> =>
      this.existence === 'pending' ? PENDING : this.existence === 'neg' ? OK_NEG : okLeaf;
    activity = new Var<ActivityState<NameTree<Name>>>(PENDING, (self) => {
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
    this.lastError = cause;
    if (this.existence !== 'bound') {
      this.existence = 'bound';
      for (const listener of [...this.listeners]) listener();
    }
    this.signature = 'failed:' + cause;
    this.addr.set({ type: 'failed', cause });
  }

  private acquire(): void {
    this.refs++;
    if (this.refs !== 1) return;
    if (this.idleTimer) {
      clearTimeout(this.idleTimer);
      this.idleTimer = undefined;
      return;
    }
    if (!this.stop) this.stop = this.source(this);
  }

  private release(): void {
    this.refs--;
    if (this.refs !== 0) return;
    const ttl = this.existence === 'neg' ? Math.min(this.idleTtlMs, NEG_IDLE_TTL_MS) : this.idleTtlMs;
    if (ttl > 0) {
      this.idleTimer = setTimeout(() => this.shutdown(), ttl);
      this.idleTimer.unref();
    } else {
      this.shutdown();
    }
  }

  private shutdown(): void {
    this.idleTimer = undefined;
    const stop = this.stop;
    this.stop = undefined;
    stop?.();
    this.onIdle?.();
  }

  /** Stop discovery now whatever the observers (namer close). */
  close(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    const stop = this.stop;
    this.stop = undefined;
    stop?.();
  }
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

/**
 * A namer's readiness from its names: not ready while a name in use (discovery running) has never had
 * its first answer; the reason names each such name (`label key`) and its last error.
 */
export function namesReadiness(label: string, names: Iterable<[string, LiveName]>): NamerReadiness {
  const waiting: string[] = [];
  for (const [key, name] of names) {
    if (name.active && name.state === 'pending') waiting.push(`${label} ${key}: ${name.lastError ?? 'waiting for the first answer'}`);
  }
  return waiting.length === 0 ? { ready: true } : { ready: false, reason: waiting.join('; ') };
}
