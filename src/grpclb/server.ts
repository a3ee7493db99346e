import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';
import type { GrpclbConfig } from '../config/types.js';
import { Path } from '../dtab/path.js';
import type { Metrics } from '../telemetry/metrics.js';
import { HoldsPerClient } from '../util/holds-per-client.js';
import { IdleTable, type TableEntry } from '../util/idle-table.js';
import { endServerStream } from '../util/grpc-server.js';
import { ADMITTED_CONNECTION_OPTIONS, listenAdmitting, type GrpcListener } from '../util/grpc-listener.js';
import type { Logger } from '../util/log.js';
import type { Closable } from '../util/var.js';
import { NameFeed, type FeedState, type NameBindingDeps } from '../dtab/name-feed.js';
import { SERVER_LIST_VIEW, sameServers, type LbServer, type ServerListResult } from './server-list.js';
import { clip } from '../util/clip.js';

/** The protocol definition, written from the grpclb specification (copied beside the build output). */
export const LOAD_BALANCER_PROTO = fileURLToPath(new URL('./load_balancer.proto', import.meta.url));

/** `grpc.lb.v1.LoadBalancer` as grpc-js loads it (also what tests drive the protocol with). */
export function loadBalancerService(): grpc.ServiceClientConstructor {
  const def = protoLoader.loadSync(LOAD_BALANCER_PROTO, { keepCase: true, longs: Number, defaults: true, oneofs: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { grpc: { lb: { v1: { LoadBalancer: grpc.ServiceClientConstructor } } } };
  return pkg.grpc.lb.v1.LoadBalancer;
}

/** A LoadBalanceRequest as proto-loader decodes it (`oneofs: true` names the field set). */
export interface LbRequest {
  load_balance_request_type?: 'initial_request' | 'client_stats';
  initial_request?: { name: string };
  client_stats?: {
    num_calls_started: number;
    num_calls_finished: number;
    num_calls_finished_with_client_failed_to_send: number;
    num_calls_finished_known_received: number;
    calls_finished_with_drop: { load_balance_token: string; num_calls: number }[];
  };
}

/** The longest name accepted (the specification: "less than 256 bytes"). */
export const MAX_NAME_BYTES = 255;
const HOST = /^[A-Za-z0-9_.-]+$/;

/**
 * The service part of `initial_request.name`: the name as the client dialled it, lower-cased,
 * without a trailing `:port` (clients send `host:port` when the target had a port; the
 * specification leaves the port to the balancer, and ours routes by name only). Returns an error message for a name that cannot
 * be one: empty, too long, or with characters no DNS name (nor dtab segment) has.
 */
export function serviceName(name: string): { host: string } | { error: string } {
  const shown = JSON.stringify(clip(name, 80));
  if (name === '') return { error: 'initial_request.name is empty: name the service you dialled (e.g. "echo-server-lb.default")' };
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) return { error: `initial_request.name ${shown} is longer than ${MAX_NAME_BYTES} bytes` };
  const m = /^(.*):(\d{1,5})$/.exec(name);
  const host = m !== null && !m[1]!.includes(':') && Number(m[2]) <= 65535 ? m[1]! : name;
  if (!HOST.test(host) || host === '.' || host === '..') {
    return { error: `initial_request.name ${shown} is not a service name: expected letters, digits, "-", "_" and "." with an optional ":port"` };
  }
  // DNS names are case-insensitive (and Kubernetes names lower-case): one name, one binding.
  return { host: host.toLowerCase() };
}

export interface GrpclbDeps extends NameBindingDeps {
  metrics: Metrics;
  log: Logger;
}

type Call = grpc.ServerDuplexStream<LbRequest, unknown>;

/**
 * The grpclb balancer: `grpc.lb.v1.LoadBalancer/BalanceLoad` on its own grpc-js server. Each
 * stream names a service in its first message; the name is bound as `<dstPrefix>/<name>` through
 * the router's dtab and namers, and the stream gets the resulting server list at once and again on
 * every change, for as long as it stays open (see NameFeed for what a list holds).
 *
 * Per-name state (a NameFeed: the binding and its address watches) lives in one IdleTable shared by
 * all streams: at most `maxNames` names; a name no stream asks for is let go after the router's idle
 * TTL (its transient TTL for names that route nowhere), idle names make room for new ones, and when
 * every name has a stream the new name is refused `RESOURCE_EXHAUSTED`. Streams are bounded by
 * `maxStreams`. A name that routes nowhere when first asked for ends its stream `NOT_FOUND`, a
 * binding failure `UNAVAILABLE`, a malformed request `INVALID_ARGUMENT`, each with a message saying
 * why.
 */
export class GrpclbServer {
  private readonly server = new grpc.Server({
    ...ADMITTED_CONNECTION_OPTIONS,
    // Requests are an initial_request (a name under 256 bytes) and small ClientStats.
    'grpc.max_receive_message_length': 64 * 1024,
    // Streams live as long as their clients; a client that vanished without a FIN (a node gone)
    // is found by PINGs and its streams released, rather than holding grpclb.maxStreams forever.
    'grpc.keepalive_time_ms': 30_000,
    'grpc.keepalive_timeout_ms': 10_000,
  });
  private readonly names: IdleTable<string, NameFeed<ServerListResult>>;
  private readonly streams = new Set<LbStream>();
  private readonly unwatchTable: () => void;
  private readonly namesFull: { inc(): void };
  private readonly streamsFull: { inc(): void };
  private readonly clientStreamsFull: { inc(): void };
  /** Streams open per client address (a key only while one is open: bounded by maxStreams). */
  private readonly streamsPerClient: HoldsPerClient;
  readonly metrics: Metrics;
  private bound: { ip: string; port: number } | undefined;
  private listener: GrpcListener | undefined;
  private draining = false;

  constructor(
    readonly config: GrpclbConfig,
    private readonly deps: GrpclbDeps,
  ) {
    this.metrics = deps.metrics;
    this.streamsPerClient = new HoldsPerClient(config.maxStreamsPerClient);
    this.names = new IdleTable<string, NameFeed<ServerListResult>>({
      idleTtlMs: deps.idleTtlMs,
      transientIdleTtlMs: deps.transientIdleTtlMs,
      isTransient: (feed) => feed.state.sample.kind !== 'bound',
      maxEntries: config.maxNames,
      onFull: () => this.namesFull.inc(),
      dispose: (feed) => feed.close(),
    });
    this.namesFull = deps.metrics.limitsReached.labels({ limit: 'grpclb.maxNames' });
    this.streamsFull = deps.metrics.limitsReached.labels({ limit: 'grpclb.maxStreams' });
    this.clientStreamsFull = deps.metrics.limitsReached.labels({ limit: 'grpclb.maxStreamsPerClient' });
    this.unwatchTable = deps.metrics.watchTable({ table: 'grpclb names' }, () => this.names.size);
    this.server.addService(loadBalancerService().service, {
      BalanceLoad: (call: Call) => this.balanceLoad(call),
    });
  }

  /** Listen on `ip:port` (port 0: any free port); rejects naming the address when it cannot. */
  async start(): Promise<{ ip: string; port: number }> {
    const { ip } = this.config;
    const limitsReached = this.metrics.limitsReached;
    this.listener = await listenAdmitting(this.server, this.config, { what: 'grpclb', log: this.deps.log, onLimit: (limit) => limitsReached.inc({ limit }) });
    this.bound = { ip, port: this.listener.port };
    this.deps.log.info('grpclb balancer listening', { ip, port: this.bound.port, dstPrefix: this.deps.dstPrefix.show() });
    return this.bound;
  }

  get port(): number | undefined {
    return this.bound?.port;
  }

  /** Names with live state now. */
  get nameCount(): number {
    return this.names.size;
  }

  /** @internal Streams following `host` now (for tests: none are left behind by streams that ended). */
  followers(host: string): number {
    return this.names.peek(host)?.value.state.observerCount ?? 0;
  }

  get streamCount(): number {
    return this.streams.size;
  }

  /**
   * Shutdown: end every stream `UNAVAILABLE` (clients keep their last list and reconnect to another
   * balancer their SRV lookup names), refuse new ones, and stop listening.
   */
  async drain(): Promise<void> {
    this.draining = true;
    for (const s of [...this.streams]) s.end(grpc.status.UNAVAILABLE, 'the balancer is shutting down; reconnect to another');
    const closed = this.listener?.close();
    await new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
    await closed;
  }

  async close(): Promise<void> {
    this.draining = true;
    for (const s of [...this.streams]) s.end(grpc.status.UNAVAILABLE, 'the balancer is shutting down; reconnect to another');
    void this.listener?.close();
    this.server.forceShutdown();
    this.names.close();
    this.unwatchTable();
  }

  private balanceLoad(call: Call): void {
    if (this.draining) return endCall(call, grpc.status.UNAVAILABLE, 'the balancer is shutting down; reconnect to another', this.metrics);
    if (this.streams.size >= this.config.maxStreams) {
      this.streamsFull.inc();
      return endCall(call, grpc.status.RESOURCE_EXHAUSTED, `the balancer has ${this.config.maxStreams} streams open (grpclb.maxStreams)`, this.metrics);
    }
    // The peer's address without its port (grpc-js: `ipv4:10.0.0.7:43122`, `ipv6:[fd00::7]:43122`).
    const client = call.getPeer().replace(/:\d+$/, '');
    if (this.streamsPerClient.acquire(client) === undefined) {
      this.clientStreamsFull.inc();
      return endCall(call, grpc.status.RESOURCE_EXHAUSTED, `this client has ${this.config.maxStreamsPerClient} streams open (grpclb.maxStreamsPerClient)`, this.metrics);
    }
    const stream = new LbStream(call, client, this, this.metrics);
    this.streams.add(stream);
  }

  /** @internal A stream asks for `name`: its feed, made if new; undefined when the table is full of names in use. */
  acquire(host: string): TableEntry<string, NameFeed<ServerListResult>> | undefined {
    const path = this.deps.dstPrefix.concat(Path.of(host));
    const entry = this.names.get(host, () =>
      new NameFeed(path, this.deps.interpreter.bind(this.deps.dtab, path), {
        bindingTimeoutMs: this.deps.bindingTimeoutMs,
        dtabText: () => this.deps.dtab.sample.show(),
        ...SERVER_LIST_VIEW,
      }),
    );
    entry?.acquire();
    return entry;
  }

  /** @internal */
  ended(stream: LbStream): void {
    if (this.streams.delete(stream)) this.streamsPerClient.release(stream.client);
  }

  /** @internal */
  get log(): Logger {
    return this.deps.log;
  }

  get statsIntervalMs(): number {
    return this.config.clientStatsIntervalMs;
  }
}

/** One BalanceLoad stream: waits for initial_request, then follows its name's feed until either side ends. */
class LbStream {
  private entry: TableEntry<string, NameFeed<ServerListResult>> | undefined;
  private observation: Closable | undefined;
  private name = '';
  /** The last list written (undefined: none yet), so only changes are sent. */
  private sent: readonly LbServer[] | undefined;
  /** A list waiting for the client to read what was written before (only the latest is kept). */
  private queued: readonly LbServer[] | undefined;
  private done = false;

  constructor(
    private readonly call: Call,
    /** The client's address, without its port. */
    readonly client: string,
    private readonly owner: GrpclbServer,
    private readonly metrics: Metrics,
  ) {
    metrics.grpclbStreams.inc();
    call.on('data', (m: LbRequest) => this.onMessage(m));
    // A half-close changes nothing once the name is known (lists keep coming until the client
    // cancels, as gRPC allows); before it, the stream can never name anything.
    call.on('end', () => {
      if (this.entry === undefined) this.end(grpc.status.INVALID_ARGUMENT, 'the client half-closed before sending initial_request');
    });
    call.on('cancelled', () => this.finish('CANCELLED'));
    call.on('error', () => this.finish('CANCELLED'));
    call.on('close', () => this.finish('CANCELLED'));
    call.on('drain', () => {
      const next = this.queued;
      this.queued = undefined;
      if (next !== undefined && !this.done) this.write(next);
    });
  }

  private onMessage(m: LbRequest): void {
    if (this.done) return;
    const kind = m.load_balance_request_type;
    if (this.entry === undefined) {
      if (kind !== 'initial_request' || m.initial_request === undefined) {
        return this.end(grpc.status.INVALID_ARGUMENT, `the first LoadBalanceRequest must be initial_request, got ${kind ?? 'an empty request'}`);
      }
      return this.start(m.initial_request.name);
    }
    if (kind === 'client_stats' && m.client_stats !== undefined) return this.count(m.client_stats);
    if (kind === 'initial_request') return this.end(grpc.status.INVALID_ARGUMENT, 'initial_request was already sent on this stream');
    // An empty request (a oneof nobody set, or a field added to the protocol since): ignored.
  }

  private start(raw: string): void {
    const parsed = serviceName(raw);
    if ('error' in parsed) return this.end(grpc.status.INVALID_ARGUMENT, parsed.error);
    this.name = parsed.host;
    const entry = this.owner.acquire(parsed.host);
    if (entry === undefined) {
      return this.end(grpc.status.RESOURCE_EXHAUSTED, `the balancer follows ${this.owner.config.maxNames} names, each with a client (grpclb.maxNames); cannot follow "${parsed.host}"`);
    }
    this.entry = entry;
    const interval = this.owner.statsIntervalMs;
    const initial =
      interval > 0 ? { client_stats_report_interval: { seconds: Math.floor(interval / 1000), nanos: (interval % 1000) * 1e6 } } : {};
    this.call.write({ initial_response: initial });
    // The feed may answer at once with a status that ends this stream: then let go at once too.
    const observation = entry.value.state.observe((s) => this.onFeed(s));
    if (this.done) observation.close();
    else this.observation = observation;
  }

  private onFeed(state: FeedState<ServerListResult>): void {
    if (this.done) return;
    switch (state.kind) {
      case 'pending':
        return;
      case 'neg':
      case 'failed':
        // Asked for a name that routes nowhere: say so. Once a stream has had a list, the name
        // going away empties the list instead (clients must stop calling what the router would
        // not call) and the stream stays to hear of its return.
        if (this.sent === undefined) return this.end(state.kind === 'neg' ? grpc.status.NOT_FOUND : grpc.status.UNAVAILABLE, state.message);
        return this.push([]);
      case 'bound':
        return this.push(state.value.servers);
    }
  }

  private push(servers: readonly LbServer[]): void {
    if (this.call.writableNeedDrain) {
      this.queued = servers;
      return;
    }
    this.write(servers);
  }

  private write(servers: readonly LbServer[]): void {
    if (this.sent !== undefined && sameServers(this.sent, servers)) return;
    this.sent = servers;
    this.metrics.grpclbServerLists.inc();
    this.call.write({ server_list: { servers: servers.map((s) => ({ ip_address: s.ip, port: s.port })) } });
  }

  private count(stats: NonNullable<LbRequest['client_stats']>): void {
    const m = this.metrics;
    m.grpclbClientStats.inc();
    const add = (kind: string, n: number) => {
      if (Number.isFinite(n) && n > 0) m.grpclbClientCalls.inc({ kind }, n);
    };
    add('started', stats.num_calls_started);
    add('finished', stats.num_calls_finished);
    add('failed_to_send', stats.num_calls_finished_with_client_failed_to_send);
    add('known_received', stats.num_calls_finished_known_received);
    let dropped = 0;
    for (const d of stats.calls_finished_with_drop ?? []) dropped += Number(d.num_calls) || 0;
    add('dropped', dropped);
  }

  /** End the stream with a status (OK ends it cleanly) and let go of its name. */
  end(code: grpc.status, message: string): void {
    if (this.done) return;
    if (code !== grpc.status.OK) this.owner.log.debug('grpclb stream ended', { name: this.name, code: grpc.status[code], message });
    this.finish(grpc.status[code]);
    endServerStream(this.call as grpc.ServerDuplexStream<unknown, unknown>, code, message);
  }

  private finish(code: string): void {
    if (this.done) return;
    this.done = true;
    this.queued = undefined;
    this.observation?.close();
    this.observation = undefined;
    this.entry?.release();
    this.entry = undefined;
    this.metrics.grpclbStreams.dec();
    this.metrics.grpclbStreamsEnded.inc({ code });
    this.owner.ended(this);
  }
}

function endCall(call: Call, code: grpc.status, details: string, metrics: Metrics): void {
  metrics.grpclbStreamsEnded.inc({ code: grpc.status[code] });
  endServerStream(call as grpc.ServerDuplexStream<unknown, unknown>, code, details);
}
