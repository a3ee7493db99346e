import type { Activity } from '../util/activity.js';
import type { NameTree } from '../dtab/nametree.js';
import type { Name } from '../dtab/name.js';
import type { Path } from '../dtab/path.js';

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
