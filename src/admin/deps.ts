import type { DelegateNode, DelegateOptions } from '../dtab/delegate.js';
import type { Dtab } from '../dtab/dtab.js';
import type { PrefixedNamer } from '../dtab/namer.js';
import type { Path } from '../dtab/path.js';
import type { RouterSnapshot } from '../introspection/snapshots.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { Logger } from '../util/log.js';

/** What the admin server is given: a floor below both the server and the documents it builds. */

/** A router as the admin sees it: read-only snapshots, and delegations with its interpreter. */
export interface AdminRouter {
  readonly label: string;
  snapshot(): RouterSnapshot;
  /**
   * The delegation tree (Linkerd `/delegator.json` shape) for `path` through `dtab`, with this
   * router's interpreter (its namers; a live dtab file's dentries go first, as Linkerd's fs
   * interpreter puts them), waiting for namers until `options.deadline`.
   */
  delegate(path: Path, dtab: Dtab, options: DelegateOptions): Promise<DelegateNode>;
}

/**
 * A page a mode adds to the admin (the control plane's subscribers): a JSON document, and a
 * dashboard tab drawn from it by the page's own script.
 */
export interface AdminPage {
  /** The tab's name, and its id in the page's URL (`/#<id>`): lowercase letters and digits. */
  readonly id: string;
  readonly title: string;
  /** Where the JSON is served (GET, HEAD), and the help line `/admin` lists for it. */
  readonly path: string;
  readonly help: string;
  json(url: URL): unknown;
  /** A browser ES module exporting `render(json) → HTML string`, served as `/pages/<id>.js`. */
  readonly script: URL;
}

export interface AdminDeps {
  /** No routers (the control plane): the dashboard hides the router panels and the dtab tab. */
  routers: AdminRouter[];
  /** Pages a mode adds: their JSON endpoints and dashboard tabs. */
  pages?: AdminPage[];
  namers: PrefixedNamer[];
  metrics: Metrics;
  log: Logger;
  /** Served as `/config.json`. */
  effectiveConfig: unknown;
  /** Config loaded, listeners bound, namers synced, not draining. */
  readiness: () => { ready: boolean; reasons: string[] };
  /** `POST /admin/shutdown` (only with `controlEnabled`). */
  onShutdown?: () => void;
  version: string;
  /** How long connections may take; `ADMIN_TIMEOUTS` unless a test shortens them. */
  timeouts?: AdminTimeouts;
}

/** How long an admin connection may take, in ms: it is closed past any of these. */
export interface AdminTimeouts {
  /** Idle between requests (keep-alive). */
  idle: number;
  /** From the connection or the last answer to a request's complete headers (then 408). */
  headers: number;
  /** To a whole request, body included (then 408). */
  request: number;
  /** Reading on after an answer that closes the connection early (lingerAfterEarlyAnswer). */
  linger: number;
  /** How often Node checks `headers` and `request`. */
  check: number;
}
