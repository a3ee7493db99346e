import { hostname } from 'node:os';

/** Where pods find the control plane by default: control-plane.yaml's Service. */
export const DEFAULT_XDS_SERVER = 'kube-grpc-router-control.default.svc.cluster.local:18000';

/**
 * The gRPC xDS bootstrap (gRFC A27) for one pod: the control plane's address, plaintext, xDS v3, and
 * the node the pod is (its id is what the control plane logs a NACK under). Read from the pod's
 * environment (the Downward API): POD_NAME, POD_NAMESPACE, NODE_NAME; KGR_ZONE for the locality
 * (pods cannot read their node's zone label); KGR_XDS_SERVER for the address.
 */
export function bootstrapFor(env: NodeJS.ProcessEnv, server?: string): Record<string, unknown> {
  const pod = env.POD_NAME || hostname();
  const namespace = env.POD_NAMESPACE || 'default';
  const node: Record<string, unknown> = { id: `${namespace}/${pod}`, cluster: namespace };
  const metadata: Record<string, string> = {};
  if (env.NODE_NAME) metadata.NODE_NAME = env.NODE_NAME;
  if (Object.keys(metadata).length > 0) node.metadata = metadata;
  // Always present: grpc-js-xds rejects a bootstrap whose node has no locality.
  node.locality = env.KGR_ZONE ? { zone: env.KGR_ZONE } : {};
  return {
    xds_servers: [{ server_uri: server || env.KGR_XDS_SERVER || DEFAULT_XDS_SERVER, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
    node,
  };
}
