import type { RouterSnapshot } from '../introspection/snapshots.js';

// The snapshot types live on a lower floor (src/introspection); re-exported for router.ts.
export type { EndpointState, EndpointSnapshot, ClientSnapshot, DtabSource, RouterSnapshot } from '../introspection/snapshots.js';

/** The read-only face of a router that the admin server uses. */
export interface RouterView {
  readonly label: string;
  snapshot(): RouterSnapshot;
  /**
   * @deprecated The admin no longer calls this: it delegates with the router's interpreter itself
   * (src/admin/router-view.ts), parsing its input once. Goes when router.ts drops its method.
   */
  delegate(path: string, dtab: string): Promise<unknown>;
}
