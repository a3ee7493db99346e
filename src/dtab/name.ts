import type { Path } from './path.js';
import type { Var } from '../util/var.js';

/**
 * What binding produces. A `Name` is either a path still to be looked up, or a bound name whose
 * address set (`addr`) changes as discovery tells us (Finagle's `Name.Path` / `Name.Bound`).
 */
export interface Address {
  /** An IP address (v4 or v6, no brackets) or, for static names not yet resolved, a host name. */
  readonly host: string;
  readonly port: number;
  /** Relative weight from discovery or from a weighted Union above it; 1 when unset. */
  readonly weight: number;
  /** Discovery metadata: Kubernetes `nodeName`, `zone`; anything else a namer knows. */
  readonly meta: Readonly<Record<string, string>>;
}

export type Addr =
  | { readonly type: 'bound'; readonly addrs: readonly Address[]; readonly meta: Readonly<Record<string, unknown>> }
  | { readonly type: 'neg' }
  | { readonly type: 'failed'; readonly cause: string }
  | { readonly type: 'pending' };

export interface BoundName {
  readonly kind: 'bound';
  /** The concrete client name, e.g. `/#/io.l5d.k8s/default/grpc/echo-server`; clients are keyed by `id.show()`. */
  readonly id: Path;
  /** The live address set. */
  readonly addr: Var<Addr>;
  /** What is left of the looked-up path after the namer consumed its part (empty when nothing is). */
  readonly residual: Path;
}

export interface PathName {
  readonly kind: 'path';
  readonly path: Path;
}

export type Name = BoundName | PathName;

export function addressKey(a: Address): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** An address's weight as the balancer reads it: unset or negative counts as 1, zero takes no calls. */
export function addressWeight(a: Address): number {
  return a.weight > 0 ? a.weight : a.weight === 0 ? 0 : 1;
}
