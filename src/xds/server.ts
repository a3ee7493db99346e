import * as grpc from '@grpc/grpc-js';
import type { NameBindingDeps } from '../dtab/name-feed.js';
import type { Metrics } from '../telemetry/metrics.js';
import { realClock, type Clock } from '../util/clock.js';
import type { TableEntry } from '../util/idle-table.js';
import { endServerStream } from '../util/grpc-server.js';
import { HoldsPerClient } from '../util/holds-per-client.js';
import { ADMITTED_CONNECTION_OPTIONS, listenAdmitting, type GrpcListenConfig, type GrpcListener } from '../util/grpc-listener.js';
import type { Logger } from '../util/log.js';
import { AdsStream, type AdsCall, type AdsOwner, type TypeDescription } from './ads-stream.js';
import { ResourceCatalog, type ResourceSource } from './catalog.js';
import { NackLog } from './nack-log.js';
import { adsServiceDefinition, type DiscoveryRequest } from './protos.js';
import { MAX_NAME_BYTES, type ResourceKey } from './resource-names.js';
import { SubscriptionBudget } from './subscription-budget.js';

export interface XdsServerConfig extends GrpcListenConfig {
  /** ADS streams open at once (one per proxyless client channel target set, one per router). */
  maxStreams: number;
  /** Of them from one client address (a pod): one pod cannot take every slot. */
  maxStreamsPerClient: number;
  /** Names one stream may subscribe to, per resource type. */
  maxNamesPerStream: number;
  /** Distinct names (services and bound ids) with live state at once, over all streams. */
  maxNames: number;
  /** Subscriptions (a name of a type on a stream, ~1 KB each) over all streams, and of one client address's streams. */
  maxSubscriptions: number;
  maxSubscriptionsPerClient: number;
}

/**
 * The largest DiscoveryRequest a client needs: every name of a type, each of the longest accepted
 * (a 3-byte field header with its length), and 64 KiB for the node, type URL, nonce and a NACK's
 * error detail. 1,000 names: 1.04 MiB. grpc-js buffers a stream's message until it is whole, up to
 * this, so it bounds what a stream that never finishes one holds.
 */
export function maxRequestBytes(maxNamesPerStream: number): number {
  return maxNamesPerStream * (MAX_NAME_BYTES + 3) + 64 * 1024;
}

/** Streams one connection may open at once (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS; more wait in the client). */
const MAX_STREAMS_PER_CONNECTION = 100;
/** Node's per-connection HTTP/2 memory (MB: its HPACK tables, queued frames); grpc-js turns Node's 10 MB bound off unless set. */
const MAX_SESSION_MEMORY_MB = 64;

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
  /** The first `limit` (default all) names it follows of `type`. */
  names(type: string, limit?: number): string[];
}

export interface XdsServerDeps extends NameBindingDeps {
  metrics: Metrics;
  log: Logger;
  /** Times the NACK log's rate (tests move it); realClock by default. */
  clock?: Clock;
}

/**
 * The xDS control plane's server: `envoy.service.discovery.v3.AggregatedDiscoveryService`, state of
 * the world, on its own grpc-js server. Streams (AdsStream) share one ResourceCatalog, so each
 * name is bound and watched once. Bounded by `maxStreams` and `maxStreamsPerClient` (more are
 * refused RESOURCE_EXHAUSTED), `maxNamesPerStream`, `maxNames`, `maxSubscriptions` and
 * `maxSubscriptionsPerClient`, each counted in kgr_limits_reached_total when reached.
 */
export class XdsServer implements AdsOwner {
  private readonly server: grpc.Server;
  private readonly catalog: ResourceCatalog;
  private readonly streams = new Map<AdsStream, StreamOrigin>();
  /** Streams open per client address (a key only while one is open). */
  private readonly streamsPerClient: HoldsPerClient;
  private readonly subscriptions: SubscriptionBudget;
  private readonly streamsFull: { inc(): void };
  private readonly clientStreamsFull: { inc(): void };
  private readonly perStreamFull: { inc(): void };
  private readonly subscriptionsFull: { inc(): void };
  private readonly clientSubscriptionsFull: { inc(): void };
  private readonly unwatchTable: () => void;
  private bound: { ip: string; port: number } | undefined;
  private listener: GrpcListener | undefined;
  private draining = false;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly nackLog: NackLog;

  constructor(
    readonly config: XdsServerConfig,
    deps: XdsServerDeps,
  ) {
    this.server = new grpc.Server({
      ...ADMITTED_CONNECTION_OPTIONS,
      // Requests name resources: the largest a client needs, so a stream holds no more of a partial one.
      'grpc.max_receive_message_length': maxRequestBytes(config.maxNamesPerStream),
      'grpc.max_concurrent_streams': MAX_STREAMS_PER_CONNECTION,
      'grpc-node.max_session_memory': MAX_SESSION_MEMORY_MB,
      // A client gone without a FIN (a node lost) is found by PINGs, its stream and names released.
      'grpc.keepalive_time_ms': 30_000,
      'grpc.keepalive_timeout_ms': 10_000,
    });
    this.metrics = deps.metrics;
    this.log = deps.log;
    this.nackLog = new NackLog(deps.log, deps.clock ?? realClock);
    this.streamsPerClient = new HoldsPerClient(config.maxStreamsPerClient);
    this.subscriptions = new SubscriptionBudget({ perClient: config.maxSubscriptionsPerClient, total: config.maxSubscriptions });
    const namesFull = deps.metrics.limitsReached.labels({ limit: 'xds.maxNames' });
    this.streamsFull = deps.metrics.limitsReached.labels({ limit: 'xds.maxStreams' });
    this.clientStreamsFull = deps.metrics.limitsReached.labels({ limit: 'xds.maxStreamsPerClient' });
    this.perStreamFull = deps.metrics.limitsReached.labels({ limit: 'xds.maxNamesPerStream' });
    this.subscriptionsFull = deps.metrics.limitsReached.labels({ limit: 'xds.maxSubscriptions' });
    this.clientSubscriptionsFull = deps.metrics.limitsReached.labels({ limit: 'xds.maxSubscriptionsPerClient' });
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
    const { ip } = this.config;
    const limitsReached = this.metrics.limitsReached;
    this.listener = await listenAdmitting(this.server, this.config, { what: 'xds', log: this.log, onLimit: (limit) => limitsReached.inc({ limit }) });
    this.bound = { ip, port: this.listener.port };
    this.log.info('xDS control plane listening', { ip, port: this.bound.port });
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

  /** Subscriptions over all streams (each name of each type a stream follows). */
  get subscriptionCount(): number {
    return this.subscriptions.size;
  }

  /** Each subscriber: its node and peer and, per type, how many names, last version sent, last ACKed and last NACK; `names` lists them. */
  subscribers(): Subscriber[] {
    return [...this.streams].map(([s, origin]) => ({ ...origin, ...s.describe(), names: (type, limit) => s.names(type, limit) }));
  }

  /** Shutdown: end every stream UNAVAILABLE (clients keep what they have and reconnect, to another replica), refuse new ones. */
  async drain(): Promise<void> {
    this.endAll();
    const closed = this.listener?.close();
    await new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
    await closed;
  }

  async close(): Promise<void> {
    this.endAll();
    void this.listener?.close();
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
    const peer = call.getPeer();
    // The peer's address without its port (grpc-js: `ipv4:10.0.0.7:43122`, `ipv6:[fd00::7]:43122`).
    const client = peer.replace(/:\d+$/, '');
    if (this.streamsPerClient.acquire(client) === undefined) {
      this.clientStreamsFull.inc();
      return refuse(call, grpc.status.RESOURCE_EXHAUSTED, `this client has ${this.config.maxStreamsPerClient} streams open (xds.maxStreamsPerClient)`, this.metrics);
    }
    this.streams.set(new AdsStream(call, client, this), { peer, connectedAt: Date.now() });
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
  subscribe(client: string, n: number): string | undefined {
    const refused = this.subscriptions.take(client, n);
    if (refused === 'perClient') {
      this.clientSubscriptionsFull.inc();
      return `this client follows at most ${this.config.maxSubscriptionsPerClient} names over its streams (xds.maxSubscriptionsPerClient)`;
    }
    if (refused === 'total') {
      this.subscriptionsFull.inc();
      return `the control plane follows at most ${this.config.maxSubscriptions} names over all streams (xds.maxSubscriptions)`;
    }
    return undefined;
  }

  /** @internal */
  unsubscribe(client: string, n: number): void {
    this.subscriptions.give(client, n);
  }

  /** @internal */
  ended(stream: AdsStream): void {
    const origin = this.streams.get(stream);
    if (origin === undefined) return;
    this.streams.delete(stream);
    this.streamsPerClient.release(stream.client);
  }
}

function refuse(call: AdsCall, code: grpc.status, details: string, metrics: Metrics): void {
  metrics.xdsStreamsEnded.inc({ code: grpc.status[code] });
  endServerStream(call as grpc.ServerDuplexStream<unknown, unknown>, code, details);
}
