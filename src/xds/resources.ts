import { packAny } from './protos.js';
import type { LocalityEndpoints, RouteTarget } from './views.js';

/**
 * The four xDS resources, encoded as gRPC clients validate them (gRFC A27; grpc-js-xds's
 * xds-resource-type/*.js): each an `Any` ready to put in a DiscoveryResponse.
 *
 * Naming (README "Control plane (xDS)"): a Listener and its RouteConfiguration are named by the
 * gRPC service the client calls (`xds:///grpc.examples.echo.Echo`); a Cluster and its
 * ClusterLoadAssignment by the bound id the service's binding reaches (`/#/io.l5d.k8s/default/grpc/echo`),
 * so anyone may ask for the endpoints of any namer path.
 */

export type PackedResource = { type_url: string; value: Buffer };

const ADS = { ads: {}, resource_api_version: 'V3' };

/** An API listener: an HttpConnectionManager whose routes come by RDS over this same ADS stream, router filter last. */
export function listenerResource(name: string): PackedResource {
  const hcm = packAny('envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager', {
    codec_type: 'AUTO',
    stat_prefix: name,
    rds: { config_source: ADS, route_config_name: name },
    http_filters: [{ name: 'envoy.filters.http.router', typed_config: packAny('envoy.extensions.filters.http.router.v3.Router', {}) }],
  });
  return packAny('envoy.config.listener.v3.Listener', { name, api_listener: { api_listener: hcm } });
}

/**
 * The routes of service `name`: calls whose path starts `/<name>/` (as `io.l5d.header.path` names
 * them) go to the one cluster, or share out by `weighted_clusters`. Any domain: the listener name
 * already chose this configuration.
 */
export function routeConfigurationResource(name: string, targets: readonly RouteTarget[]): PackedResource {
  const action =
    targets.length === 1
      ? { cluster: targets[0]!.cluster }
      : {
          weighted_clusters: {
            clusters: targets.map((t) => ({ name: t.cluster, weight: { value: t.weight } })),
            // Deprecated, but older gRPC cores (python3-grpcio 1.51) check the sum against it (default 100).
            total_weight: { value: targets.reduce((sum, t) => sum + t.weight, 0) },
          },
        };
  return packAny('envoy.config.route.v3.RouteConfiguration', {
    name,
    virtual_hosts: [{ name, domains: ['*'], routes: [{ name, match: { prefix: `/${name}/` }, route: action }] }],
  });
}

/** An EDS cluster whose ClusterLoadAssignment has the same name, round robin (gRPC's default policy). */
export function clusterResource(name: string): PackedResource {
  return packAny('envoy.config.cluster.v3.Cluster', {
    name,
    type: 'EDS',
    eds_cluster_config: { eds_config: ADS, service_name: name },
    connect_timeout: { seconds: 3, nanos: 0 },
    lb_policy: 'ROUND_ROBIN',
  });
}

/**
 * The endpoints, one LocalityLbEndpoints per zone, each with a load_balancing_weight (the sum of its
 * endpoints' weights): gRPC drops a locality that has none (gRFC A27, weighted_target).
 */
export function clusterLoadAssignmentResource(name: string, localities: readonly LocalityEndpoints[]): PackedResource {
  return packAny('envoy.config.endpoint.v3.ClusterLoadAssignment', {
    cluster_name: name,
    endpoints: localities.map((l) => ({
      // Always set (grpc-js rejects a LocalityLbEndpoints without one); priority 0 for all.
      locality: l.zone ? { zone: l.zone } : {},
      load_balancing_weight: { value: l.endpoints.reduce((sum, e) => sum + e.weight, 0) },
      lb_endpoints: l.endpoints.map((e) => ({
        endpoint: { address: { socket_address: { address: e.host, port_value: e.port } } },
        health_status: 'HEALTHY',
        load_balancing_weight: { value: e.weight },
      })),
    })),
  });
}
