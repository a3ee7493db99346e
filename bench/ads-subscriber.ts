import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';

/**
 * A simulated xDS subscriber for the fleet bench: one ADS stream (state of the world) asking for
 * ClusterLoadAssignments by name, as a per-node router or a proxyless gRPC client does, ACKing each
 * response with its version_info and nonce. Messages are encoded and decoded with the real Envoy
 * protos that @grpc/grpc-js-xds ships in its deps/ (the same files its own xDS client loads).
 */

export const EDS_TYPE_URL = 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment';
const ADS_METHOD = '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources';

/** deps/ of @grpc/grpc-js-xds (envoy-api, xds, googleapis, protoc-gen-validate), and protobufjs's own google/protobuf/*.proto. */
const require = createRequire(import.meta.url);
const DEPS = join(dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');
const INCLUDE_DIRS = [...['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => join(DEPS, d)), dirname(require.resolve('protobufjs/package.json'))];

function loadEnvoyProtos(): protobuf.Root {
  const root = new protobuf.Root();
  // Imports are relative to the include dirs, as protoc's -I would take them.
  root.resolvePath = (_origin, target) => INCLUDE_DIRS.map((d) => join(d, target)).find((p) => existsSync(p)) ?? target;
  root.loadSync(['envoy/service/discovery/v3/discovery.proto', 'envoy/config/endpoint/v3/endpoint.proto'], { keepCase: true });
  root.resolveAll();
  return root;
}

const root = loadEnvoyProtos();
const DiscoveryRequest = root.lookupType('envoy.service.discovery.v3.DiscoveryRequest');
const DiscoveryResponse = root.lookupType('envoy.service.discovery.v3.DiscoveryResponse');
const ClusterLoadAssignment = root.lookupType('envoy.config.endpoint.v3.ClusterLoadAssignment');

interface Response {
  version_info: string;
  nonce: string;
  type_url: string;
  resources: { type_url: string; value: Uint8Array }[];
}

/** A ClusterLoadAssignment as the bench reads it: its name and its endpoints as `ip:port`. */
export interface Assignment {
  name: string;
  endpoints: string[];
}

function decodeAssignment(bytes: Uint8Array): Assignment {
  // protobufjs messages carry the fields as properties (keepCase: snake_case names).
  const cla = ClusterLoadAssignment.decode(bytes) as unknown as {
    cluster_name: string;
    endpoints: { lb_endpoints: { endpoint?: { address?: { socket_address?: { address: string; port_value: number } } } }[] }[];
  };
  const endpoints: string[] = [];
  for (const locality of cla.endpoints) {
    for (const lb of locality.lb_endpoints) {
      const s = lb.endpoint?.address?.socket_address;
      if (s) endpoints.push(`${s.address}:${s.port_value}`);
    }
  }
  return { name: cla.cluster_name, endpoints };
}

/** Counts of what every subscriber of one bench received. */
export const received = { responses: 0, bytes: 0, assignments: 0 };

const serialize = (m: object): Buffer => Buffer.from(DiscoveryRequest.encode(DiscoveryRequest.fromObject(m)).finish());
const deserialize = (b: Buffer): Response => {
  received.responses++;
  received.bytes += b.length;
  return DiscoveryResponse.decode(b) as unknown as Response;
};

/**
 * grpc-js channels to one control plane, `streamsPerChannel` streams on each: every channel has its
 * own subchannel pool, so each is its own TCP connection (HTTP/2 session), as distinct nodes'
 * connections are.
 */
export class ChannelPool {
  private readonly clients: grpc.Client[] = [];
  private opened = 0;

  constructor(
    private readonly target: string,
    private readonly streamsPerChannel: number,
  ) {}

  /** The channel the next stream goes on. */
  next(): grpc.Client {
    const i = Math.floor(this.opened++ / this.streamsPerChannel);
    while (this.clients.length <= i) {
      this.clients.push(new grpc.Client(this.target, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1, 'grpc.max_receive_message_length': 64 * 1024 * 1024 }));
    }
    return this.clients[i]!;
  }

  get channels(): number {
    return this.clients.length;
  }

  close(): void {
    for (const c of this.clients) c.close();
  }
}

export interface SubscriberEvents {
  /** Each response's assignments, with the time (performance.now()) it was decoded. */
  onAssignments(subscriber: AdsSubscriber, assignments: Assignment[], at: number): void;
  /** The stream ended or failed (the bench counts these; a healthy run has none). */
  onEnd(subscriber: AdsSubscriber, status: grpc.StatusObject | Error): void;
}

/** One node's ADS stream subscribed to `names` (EDS). */
export class AdsSubscriber {
  private readonly call: grpc.ClientDuplexStream<object, Response>;
  /** Names an assignment has arrived for: the stream is synced when it has all of them. */
  private readonly seen = new Set<string>();
  syncedAt: number | undefined;
  ended = false;

  constructor(
    readonly index: number,
    readonly nodeId: string,
    readonly names: readonly string[],
    client: grpc.Client,
    private readonly events: SubscriberEvents,
  ) {
    this.call = client.makeBidiStreamRequest(ADS_METHOD, serialize, deserialize);
    this.call.on('data', (r: Response) => this.onResponse(r));
    this.call.on('status', (s: grpc.StatusObject) => this.end(s));
    this.call.on('error', (e: Error) => this.end(e));
    // The first request carries the node, as grpc's xDS clients send it.
    this.call.write({
      node: { id: nodeId, cluster: 'kgr-fleet-bench', user_agent_name: 'kgr-fleet-bench', client_features: ['envoy.lb.does_not_support_overprovisioning'] },
      type_url: EDS_TYPE_URL,
      resource_names: names,
    });
  }

  get synced(): boolean {
    return this.syncedAt !== undefined;
  }

  private onResponse(r: Response): void {
    const at = performance.now();
    const assignments: Assignment[] = [];
    for (const any of r.resources) {
      if (any.type_url !== EDS_TYPE_URL) continue;
      const a = decodeAssignment(any.value);
      assignments.push(a);
      this.seen.add(a.name);
    }
    received.assignments += assignments.length;
    if (this.syncedAt === undefined && this.seen.size === this.names.length) this.syncedAt = at;
    // ACK: the version and nonce just applied, and the same names.
    this.call.write({ version_info: r.version_info, response_nonce: r.nonce, type_url: EDS_TYPE_URL, resource_names: this.names });
    this.events.onAssignments(this, assignments, at);
  }

  private end(status: grpc.StatusObject | Error): void {
    if (this.ended) return;
    this.ended = true;
    this.events.onEnd(this, status);
  }

  close(): void {
    this.ended = true;
    this.call.cancel();
  }
}
