import type { RouterSnapshot } from '../introspection/snapshots.js';

// The snapshot types live on a lower floor (src/introspection); re-exported for router.ts.
export type { EndpointState, EndpointSnapshot, ClientSnapshot, DtabSource, RouterSnapshot } from '../introspection/snapshots.js';

/** The read-only face of a router that the admin server uses. */
export interface RouterView {
  readonly label: string;
  snapshot(): RouterSnapshot;
}
