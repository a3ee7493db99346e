import type { Outcome } from './route.js';

// Linkerd's /delegator.json shape, and what routing does with each node.

export interface DelegateDentry {
  prefix: string;
  dst: string;
}

export type DelegateAddr =
  | { type: 'bound'; addrs: { ip: string; port: number; meta: Record<string, unknown> }[]; meta: Record<string, unknown> }
  | { type: 'neg' }
  | { type: 'failed'; cause: string }
  | { type: 'pending' };

export interface DelegateBound {
  addr: DelegateAddr;
  /** The bound id, e.g. `/$/inet/127.1/8080`. */
  id: string;
  /** The residual path, `/` when empty. */
  path: string;
}

/**
 * One step of a delegation, as Linkerd's delegator serves it (`dentry` absent on the root). The
 * admin adds `routing` (what routing does with the node: see routeDelegation).
 */
export type DelegateNode = (
  | { type: 'delegate'; path: string; dentry?: DelegateDentry; delegate: DelegateNode }
  | { type: 'alt'; path: string; dentry?: DelegateDentry; alt: DelegateNode[] }
  | { type: 'union'; path: string; dentry?: DelegateDentry; union: { weight: number; tree: DelegateNode }[] }
  | { type: 'leaf'; path: string; dentry?: DelegateDentry; bound: DelegateBound }
  | { type: 'neg'; path: string; dentry?: DelegateDentry }
  | { type: 'fail'; path: string; dentry?: DelegateDentry }
  | { type: 'empty'; path: string; dentry?: DelegateDentry }
  | { type: 'exception'; path: string; dentry?: DelegateDentry; message: string }
) & { routing?: Routing };

/** Why calls that reach a chosen node fail, in the router's words (its error reasons). */
export type CallFailure = 'no route' | 'no endpoints' | 'binding failed';

/** What routing does with one node of a delegation. */
export interface Routing {
  /** What the node binds to. */
  outcome: Outcome;
  /** Whether routing takes this node for some of the name's calls. */
  chosen: boolean;
  /** The fraction of the name's calls that go through it (0 when not chosen). */
  share: number;
  /** On a chosen node where calls end: why they fail there, absent when they reach endpoints. */
  fails?: CallFailure;
}
