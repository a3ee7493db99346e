import type { Activity } from '../util/activity.js';
import type { NameTree } from './nametree.js';
import type { Name } from './name.js';
import type { Path } from './path.js';

/**
 * A namer answers for the names below its prefix (`/#/io.l5d.k8s/…`, `/$/inet/…`). Its answer is
 * reactive: Neg (no such name, let the dtab fall through), a tree of bound names whose address sets
 * update in place, Fail, or pending while it is still finding out.
 *
 * Contract for implementations:
 * - `lookup(path)` receives the path *below* the namer's prefix and must be cheap to call again:
 *   the same name returns the same Activity (share one watch per name), activated lazily on the
 *   first observer and released (after an idle TTL where that is worth it) when the last one leaves.
 * - A bound name's `id` is the full path including the prefix (`/#/io.l5d.k8s/ns/port/svc`), and its
 *   `residual` is whatever the namer did not consume.
 */
export interface Namer {
  lookup(path: Path): Activity<NameTree<Name>>;
  /** Watch state for `/namer_state/<prefix>.json` (any JSON). */
  state?(): unknown;
  /**
   * Readiness for the admin `/ready` probe: not ready while a name that something observes (a route's
   * binding) has never had its first answer — e.g. a Kubernetes watch whose first list failed because
   * the API is down or refuses (403). `reason` names what is waiting and the last error. A namer
   * without this method counts as ready.
   */
  ready?(): NamerReadiness;
  close?(): void | Promise<void>;
}

/** A namer's answer to "can routes that depend on you serve?". */
export interface NamerReadiness {
  readonly ready: boolean;
  /** Why not (present when `ready` is false). */
  readonly reason?: string;
}

/** A configured namer and the prefix it answers under, e.g. `/#/io.l5d.k8s`. */
export interface PrefixedNamer {
  readonly prefix: Path;
  readonly kind: string;
  readonly namer: Namer;
}

/**
 * The global namer (Finagle's `Namer.global`), asked last and with the whole path, for a path that
 * neither the dtab nor a configured namer answered. Its contract:
 * - a path not under `/$/` is Neg;
 * - `/$/inet/<host>/<port>[/rest]` (and `/$/inet/<port>` for localhost) is a bound name with id
 *   `/$/inet/<host>/<port>` and residual `/rest`, its address set following DNS; `/$/fixedinet/…`
 *   the same, resolved once;
 * - `/$/fail[/…]` is Fail, `/$/nil[/…]` is Empty;
 * - any other `/$/<name>/…` is a helper namer by that name, or a failed lookup naming it.
 * The engine takes it as a dependency, so that the dtab library itself does no I/O; the
 * implementation (with DNS) is `globalNamer` in src/namers/global.ts.
 */
export type GlobalNamer = Namer;
