import { parsePath } from '../dtab/parse.js';
import type { Path } from '../dtab/path.js';
import type { ResourceType } from './protos.js';
import { clip } from '../util/clip.js';

/** The longest resource name accepted, in bytes (a Kubernetes-derived id is far shorter). */
export const MAX_NAME_BYTES = 1024;
/** A gRPC service name (`package.Service`), which is also one dtab path segment. */
const SERVICE = /^[A-Za-z0-9_.-]+$/;

/** A resource name's meaning: a service (its Listener and RouteConfiguration) or a bound id (its Cluster and ClusterLoadAssignment). */
export type ResourceKey = { readonly service: string } | { readonly id: Path };

/**
 * What a requested resource name means:
 * - Listener and RouteConfiguration names are gRPC service names (`grpc.examples.echo.Echo`), bound
 *   as `<dstPrefix>/<service>` through the dtab, exactly as the router names a call to that service;
 * - Cluster and ClusterLoadAssignment names are bound ids (`/#/<namer prefix>/…` or `/$/…`), bound
 *   through the namers alone.
 * Returns the meaning, or an error message naming the bad name.
 */
export function parseResourceName(type: ResourceType, name: string): ResourceKey | { error: string } {
  const shown = JSON.stringify(clip(name, 80));
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) return { error: `${type} resource name ${shown} is longer than ${MAX_NAME_BYTES} bytes` };
  if (type === 'listener' || type === 'route') {
    if (!SERVICE.test(name) || name === '.' || name === '..') {
      return { error: `${type} resource name ${shown} is not a gRPC service name (letters, digits, "_", "-" and "."; dial xds:///<package.Service>)` };
    }
    return { service: name };
  }
  if (!name.startsWith('/#/') && !name.startsWith('/$/')) {
    return { error: `${type} resource name ${shown} is not a bound id: expected a namer path such as /#/io.l5d.k8s/default/grpc/echo or /$/inet/10.0.0.1/8080` };
  }
  try {
    return { id: parsePath(name) };
  } catch (err) {
    return { error: `${type} resource name ${shown} is not a path: ${(err as Error).message}` };
  }
}
