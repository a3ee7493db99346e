import * as grpc from '@grpc/grpc-js';
import type { Address } from '../../dtab/name.js';
import { Backoff } from '../../util/backoff.js';
import { realClock, type Clock } from '../../util/clock.js';
import type { Logger } from '../../util/log.js';
import { VERSION } from '../../version.js';
import { adsServiceDefinition, TYPE_URLS, type DiscoveryRequest, type DiscoveryResponse } from '../protos.js';
import { readLoadAssignment } from './load-assignment.js';

/** What the control plane says of one subscribed name: its endpoints, or that it does not exist. */
export type EdsUpdate = { readonly kind: 'bound'; readonly addrs: readonly Address[] } | { readonly kind: 'neg' };

export interface EdsClientOptions {
  /** Control-plane replicas, `host:port`, tried in turn. */
  servers: readonly string[];
  nodeId: string;
  /** A name with no resource this long after it was asked for does not exist (EDS responses never say so). */
  initialFetchTimeoutMs: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  log: Logger;
  /** Counts, for metrics: a response accepted or rejected, a stream lost. */
  onAck?: () => void;
  onNack?: () => void;
  onStreamLost?: () => void;
  /** Runs the does-not-exist timers (tests move it). */
  clock?: Clock;
  random?: () => number;
}

/** The connection as /ready and namer state show it. */
interface EdsConnection {
  state: 'idle' | 'connecting' | 'connected' | 'backing off';
  server: string;
  lastError?: string;
  /** Responses accepted and rejected on this process's streams. */
  acks: number;
  nacks: number;
}

interface Watch {
  readonly listener: (update: EdsUpdate) => void;
  /** A resource has arrived for it (on any stream): its endpoints stand until another does. */
  received: boolean;
  /** Stops the does-not-exist timer. */
  stopTimer?: () => void;
}

const ADS = adsServiceDefinition().StreamAggregatedResources!;
const INVALID_ARGUMENT = 3;

/**
 * A router's one xDS connection: one ADS stream (state of the world) to one control-plane replica,
 * carrying EDS subscriptions for exactly the names watched. Each response is ACKed (its
 * version_info and nonce) or, when a resource fails to read, NACKed with error_detail naming it
 * (the valid ones still apply, as gRPC clients do). When the stream fails, every name keeps its last
 * endpoints, and the next replica in `servers` is dialled after a jittered exponential backoff
 * (reset once a stream has had a response); the new stream asks for every name again. With no name
 * watched there is no stream.
 *
 * EDS omits what does not exist rather than saying so (a resource left out of a response means
 * nothing), so, as in gRPC and Envoy, a name with no resource within `initialFetchTimeoutMs` of
 * being asked for on a live stream is reported Neg; a resource arriving later still counts. A name
 * that stops existing after its endpoints were sent comes as an assignment with no endpoints (as
 * `kube-grpc-router control` sends it), and is taken as such: bound with none, so calls fail
 * UNAVAILABLE rather than go to the old endpoints.
 */
export class EdsClient {
  private readonly watches = new Map<string, Watch>();
  private readonly backoff: Backoff;
  private readonly clock: Clock;
  private serverIndex = 0;
  private client: grpc.Client | undefined;
  private call: grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse> | undefined;
  /** The pending reconnect's cancel, while backing off. */
  private retry: (() => void) | undefined;
  /** The last version accepted and the last nonce seen (the nonce is per stream). */
  private version = '';
  private nonce = '';
  private requestQueued = false;
  private closed = false;
  readonly connection: EdsConnection;

  constructor(private readonly options: EdsClientOptions) {
    if (options.servers.length === 0) throw new Error('xds: no control-plane servers to subscribe to');
    this.backoff = new Backoff(options.reconnectMinMs, options.reconnectMaxMs, options.random);
    this.clock = options.clock ?? realClock;
    this.connection = { state: 'idle', server: options.servers[0]!, acks: 0, nacks: 0 };
  }

  /** Names watched now. */
  get names(): string[] {
    return [...this.watches.keys()];
  }

  /** Subscribe to `name` (one listener per name); the returned function unsubscribes. */
  watch(name: string, listener: (update: EdsUpdate) => void): () => void {
    if (this.watches.has(name)) throw new Error(`xds: ${name} is already watched`);
    const watch: Watch = { listener, received: false };
    this.watches.set(name, watch);
    if (this.call) this.startTimer(name, watch);
    this.changed();
    return () => {
      if (this.watches.get(name) !== watch) return;
      watch.stopTimer?.();
      this.watches.delete(name);
      this.changed();
    };
  }

  close(): void {
    this.closed = true;
    for (const w of this.watches.values()) w.stopTimer?.();
    this.watches.clear();
    this.disconnect();
    this.retry?.();
  }

  private changed(): void {
    if (this.closed) return;
    if (this.watches.size === 0) {
      // Nothing to follow: let the control plane forget this node until a name is wanted again.
      this.disconnect();
      this.retry?.();
      this.retry = undefined;
      this.backoff.reset();
      this.connection.state = 'idle';
      return;
    }
    if (this.call) return this.queueRequest();
    if (this.retry === undefined) this.connect();
  }

  private connect(): void {
    this.retry = undefined;
    const server = this.options.servers[this.serverIndex]!;
    Object.assign(this.connection, { state: 'connecting', server });
    const client = new grpc.Client(server, grpc.credentials.createInsecure(), {
      // A replica gone without a FIN (its node lost) is found by PINGs, and the next one dialled.
      'grpc.keepalive_time_ms': 30_000,
      'grpc.keepalive_timeout_ms': 10_000,
      // One response carries every subscribed name's endpoints.
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
    });
    const call = client.makeBidiStreamRequest<DiscoveryRequest, DiscoveryResponse>(ADS.path, ADS.requestSerialize, ADS.responseDeserialize);
    this.client = client;
    this.call = call;
    this.nonce = '';
    let answered = false;
    call.on('data', (response: DiscoveryResponse) => {
      if (this.call !== call) return;
      if (!answered) {
        answered = true;
        this.backoff.reset();
        this.connection.state = 'connected';
        this.connection.lastError = undefined;
      }
      this.onResponse(response);
    });
    call.on('error', () => {}); // reported by 'status'
    call.on('status', (status: grpc.StatusObject) => {
      if (this.call !== call) return;
      const why = status.code === grpc.status.OK ? 'the control plane ended the stream' : `${grpc.status[status.code]}: ${status.details}`;
      this.lost(server, why);
    });
    for (const [name, watch] of this.watches) this.startTimer(name, watch);
    this.send();
  }

  /** The stream failed: keep every name's endpoints, and dial the next replica after a backoff. */
  private lost(server: string, why: string): void {
    this.disconnect();
    if (this.closed) return;
    this.options.onStreamLost?.();
    const delay = this.backoff.next();
    this.serverIndex = (this.serverIndex + 1) % this.options.servers.length;
    Object.assign(this.connection, { state: 'backing off', lastError: `${server}: ${why}` });
    this.options.log.warn('xDS stream lost; keeping the last endpoints', { server, error: why, retryInMs: delay, next: this.options.servers[this.serverIndex] });
    this.retry = this.clock.after(delay, () => this.connect());
  }

  private disconnect(): void {
    const { call, client } = this;
    this.call = undefined;
    this.client = undefined;
    for (const w of this.watches.values()) {
      w.stopTimer?.();
      w.stopTimer = undefined;
    }
    call?.cancel();
    client?.close();
  }

  private startTimer(name: string, watch: Watch): void {
    if (watch.received || watch.stopTimer) return;
    watch.stopTimer = this.clock.after(this.options.initialFetchTimeoutMs, () => {
      watch.stopTimer = undefined;
      this.options.log.info('xDS: no endpoints for a name; taking it as not existing', { name, afterMs: this.options.initialFetchTimeoutMs });
      watch.listener({ kind: 'neg' });
    });
  }

  private onResponse(response: DiscoveryResponse): void {
    const errors: string[] = [];
    if (response.type_url !== TYPE_URLS.endpoint) {
      errors.push(`type_url ${JSON.stringify(response.type_url)} was not asked for (only ${TYPE_URLS.endpoint})`);
    } else {
      response.resources.forEach((resource, i) => {
        let assignment;
        try {
          assignment = readLoadAssignment(resource, i);
        } catch (err) {
          return void errors.push((err as Error).message);
        }
        const watch = this.watches.get(assignment.name);
        if (watch === undefined) return; // unsubscribed while the response was on its way
        watch.received = true;
        watch.stopTimer?.();
        watch.stopTimer = undefined;
        watch.listener({ kind: 'bound', addrs: assignment.addrs });
      });
    }
    this.nonce = response.nonce;
    if (errors.length === 0) {
      this.version = response.version_info;
      this.connection.acks++;
      this.options.onAck?.();
      return this.send();
    }
    const message = errors.join('; ').slice(0, 4000);
    this.connection.nacks++;
    this.options.onNack?.();
    this.options.log.warn('xDS response rejected (NACK)', { server: this.connection.server, version: response.version_info, error: message });
    this.send({ code: INVALID_ARGUMENT, message });
  }

  private queueRequest(): void {
    if (this.requestQueued) return;
    this.requestQueued = true;
    queueMicrotask(() => {
      this.requestQueued = false;
      this.send();
    });
  }

  /** The subscription now, answering the last response (an ACK, or a NACK with `error`). */
  private send(error?: { code: number; message: string }): void {
    this.call?.write({
      version_info: this.version,
      node: { id: this.options.nodeId, cluster: '', user_agent_name: 'kube-grpc-router', user_agent_version: VERSION } as DiscoveryRequest['node'],
      resource_names: [...this.watches.keys()].sort(),
      type_url: TYPE_URLS.endpoint,
      response_nonce: this.nonce,
      ...(error ? { error_detail: error } : {}),
    });
  }
}
