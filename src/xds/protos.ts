import type * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { fileURLToPath } from 'node:url';

/**
 * The xDS messages this control plane speaks, loaded once from src/xds/proto (a subset of the Envoy
 * API with its real field numbers, copied beside the build output): protobufjs, which
 * @grpc/proto-loader already brings, encodes the resources and the ADS stream's messages.
 */
const PROTO_DIR = fileURLToPath(new URL('./proto/', import.meta.url));
const FILES = ['discovery.proto', 'listener.proto', 'http_connection_manager.proto', 'router.proto', 'route.proto', 'cluster.proto', 'endpoint.proto'];

/** The four resource types served, by their xDS names. */
export const TYPE_URLS = {
  listener: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  route: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  cluster: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  endpoint: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
} as const;

export type ResourceType = keyof typeof TYPE_URLS;
const RESOURCE_TYPES = Object.keys(TYPE_URLS) as ResourceType[];

/** The resource type a type URL names, or undefined for one this control plane does not serve. */
export function resourceTypeOf(typeUrl: string): ResourceType | undefined {
  return RESOURCE_TYPES.find((t) => TYPE_URLS[t] === typeUrl);
}

let root: protobuf.Root | undefined;

/** Every message type of the subset (tests compare their field numbers with the Envoy API's). */
export function xdsRoot(): protobuf.Root {
  if (root === undefined) {
    const r = new protobuf.Root();
    r.loadSync(FILES.map((f) => PROTO_DIR + f), { keepCase: true });
    r.resolveAll();
    root = r;
  }
  return root;
}

/** A google.protobuf.Any holding `value` as message `typeName` (its full name, e.g. `envoy.config.listener.v3.Listener`). */
export function packAny(typeName: string, value: Record<string, unknown>): { type_url: string; value: Buffer } {
  const type = xdsRoot().lookupType(typeName);
  return { type_url: `type.googleapis.com/${typeName}`, value: Buffer.from(type.encode(type.fromObject(value)).finish()) };
}

/** A DiscoveryRequest as decoded here: enums as names, absent scalars as defaults. */
export interface DiscoveryRequest {
  version_info: string;
  node?: { id: string; cluster: string; locality?: { region: string; zone: string; sub_zone: string }; user_agent_name: string };
  resource_names: string[];
  type_url: string;
  response_nonce: string;
  error_detail?: { code: number; message: string };
}

export interface DiscoveryResponse {
  version_info: string;
  resources: { type_url: string; value: Buffer }[];
  type_url: string;
  nonce: string;
}

const TO_OBJECT: protobuf.IConversionOptions = { longs: Number, enums: String, defaults: true, arrays: true };

function codec<T>(typeName: string): { serialize: (m: T) => Buffer; deserialize: (b: Buffer) => T } {
  const type = xdsRoot().lookupType(typeName);
  return {
    serialize: (m) => Buffer.from(type.encode(type.fromObject(m as Record<string, unknown>)).finish()),
    deserialize: (b) => type.toObject(type.decode(b), TO_OBJECT) as T,
  };
}

/** `envoy.service.discovery.v3.AggregatedDiscoveryService`, for a grpc-js server (and the tests' raw clients). */
export function adsServiceDefinition(): grpc.ServiceDefinition {
  const request = codec<DiscoveryRequest>('envoy.service.discovery.v3.DiscoveryRequest');
  const response = codec<DiscoveryResponse>('envoy.service.discovery.v3.DiscoveryResponse');
  return {
    StreamAggregatedResources: {
      path: '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources',
      requestStream: true,
      responseStream: true,
      requestSerialize: request.serialize,
      requestDeserialize: request.deserialize,
      responseSerialize: response.serialize,
      responseDeserialize: response.deserialize,
    },
  };
}
