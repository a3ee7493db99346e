import * as grpc from '@grpc/grpc-js';
import type { NameBindingDeps } from '../dtab/name-feed.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { TableEntry } from '../util/idle-table.js';
import { endServerStream, listenPlaintext } from '../util/grpc-server.js';
import type { Logger } from '../util/log.js';
import { AdsStream, type AdsCall, type AdsOwner, type TypeDescription } from './ads-stream.js';
import { ResourceCatalog, type ResourceSource } from './catalog.js';
import { adsServiceDefinition, type DiscoveryRequest } from './protos.js';
import type { ResourceKey } from './resource-names.js';

export interface XdsServerConfig {
  ip: string;
  port: number;
  /** ADS streams open at once (one per proxyless client channel target set, one per router). */
  maxStreams: number;
  /** Names one stream may subscribe to, per resource type. */
  maxNamesPerStream: number;
  /** Distinct names (services and bound ids) with live state at once, over all streams. */
  maxNames: number;
}

/** Where a stream came from: its peer, when it opened, and the node's cluster and locality as it sent them. */
interface StreamOrigin {
  peer: string;
  connectedAt: number;
}

/** One ADS stream as the admin shows it. */
export interface Subscriber extends StreamOrigin {
  node: string;
  cluster: string;
  locality: string;
  types: Record<string, TypeDescription>;
}

export interface XdsServerDeps extends NameBindingDeps {
  metrics: Metrics;
  log: Logger;
}

/**
 * The xDS control plane's server: `envoy.service.discovery.v3.AggregatedDiscoveryService`, state of
 * the world, on its own grpc-js server. Streams (AdsStream) share one ResourceCatalog, so each
 * name is bound and watched once. Bounded by `maxStreams` (more are refused RESOURCE_EXHAUSTED),
 * `maxNamesPerStream` and `maxNames`, each counted in kgr_limits_reached_total when reached.
 */
export class XdsServer implements AdsOwner {
  private readonly server = new grpc.Server({
    // Requests name resources; a router subscribing to its names stays far below this.
    'grpc.max_receive_message_length': 4 * 1024 * 1024,
    // A client gone without a FIN (a node lost) is found by PINGs, its stream and names released.
    'grpc.keepalive_time_ms': 30_000,
    'grpc.keepalive_timeout_ms': 10_000,
  });
  private readonly catalog: ResourceCatalog;
  private readonly streams = new Map<AdsStream, StreamOrigin>();
  private readonly streamsFull: { inc(): void };
  private readonly perStreamFull: { inc(): void };
  private readonly unwatchTable: () => void;
  private bound: { ip: string; port: number } | undefined;
  private draining = false;
  readonly metrics: Metrics;
  readonly log: Logger;

  constructor(
    readonly config: XdsServerConfig,
    deps: XdsServerDeps,
  ) {
    this.metrics = deps.metrics;
    this.log = deps.log;
    const namesFull = deps.metrics.limitsReached.labels({ limit: 'xds.maxNames' });
    this.streamsFull = deps.metrics.limitsReached.labels({ limit: 'xds.maxStreams' });
    this.perStreamFull = deps.metrics.limitsReached.labels({ limit: 'xds.maxNamesPerStream' });
    this.catalog = new ResourceCatalog({ ...deps, maxNames: config.maxNames, onFull: () => namesFull.inc() });
    this.unwatchTable = deps.metrics.watchTable({ table: 'xds names' }, () => this.catalog.size);
    this.server.addService(adsServiceDefinition(), {
      StreamAggregatedResources: (call: AdsCall) => this.stream(call),
    });
  }

  get maxNamesPerStream(): number {
    return this.config.maxNamesPerStream;
  }

  get maxNames(): number {
    return this.config.maxNames;
  }

  /** Listen on `ip:port` (port 0: any free port); rejects naming the address when it cannot. */
  async start(): Promise<{ ip: string; port: number }> {
    const { ip, port } = this.config;
    const bound = await listenPlaintext(this.server, ip, port, 'xds');
    this.bound = { ip, port: bound };
    this.log.info('xDS control plane listening', { ip, port: bound });
    return this.bound;
  }

  get port(): number | undefined {
    return this.bound?.port;
  }

  get streamCount(): number {
    return this.streams.size;
  }

  get nameCount(): number {
    return this.catalog.size;
  }

  /** Each subscriber: its node and peer and, per type, names, last version sent, last ACKed and last NACK. */
  subscribers(): Subscriber[] {
    return [...this.streams].map(([s, origin]) => ({ ...origin, ...s.describe() }));
  }

  /** Shutdown: end every stream UNAVAILABLE (clients keep what they have and reconnect, to another replica), refuse new ones. */
  async drain(): Promise<void> {
    this.endAll();
    await new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
  }

  async close(): Promise<void> {
    this.endAll();
    this.server.forceShutdown();
    this.catalog.close();
    this.unwatchTable();
  }

  private endAll(): void {
    this.draining = true;
    for (const s of [...this.streams.keys()]) s.end(grpc.status.UNAVAILABLE, 'the control plane is shutting down; reconnect to another replica');
  }

  private stream(call: AdsCall): void {
    if (this.draining) return refuse(call, grpc.status.UNAVAILABLE, 'the control plane is shutting down; reconnect to another replica', this.metrics);
    if (this.streams.size >= this.config.maxStreams) {
      this.streamsFull.inc();
      return refuse(call, grpc.status.RESOURCE_EXHAUSTED, `the control plane has ${this.config.maxStreams} streams open (xds.maxStreams)`, this.metrics);
    }
    this.streams.set(new AdsStream(call, this), { peer: call.getPeer(), connectedAt: Date.now() });
  }

  /** @internal */
  acquire(name: ResourceKey): TableEntry<string, { source: ResourceSource }> | undefined {
    return this.catalog.acquire(name);
  }

  /** @internal */
  namesPerStreamFull(): void {
    this.perStreamFull.inc();
  }

  /** @internal */
  ended(stream: AdsStream): void {
    this.streams.delete(stream);
  }
}

function refuse(call: AdsCall, code: grpc.status, details: string, metrics: Metrics): void {
  metrics.xdsStreamsEnded.inc({ code: grpc.status[code] });
  endServerStream(call as grpc.ServerDuplexStream<unknown, unknown>, code, details);
}
