import * as grpc from '@grpc/grpc-js';
import type { Metrics } from '../telemetry/metrics.js';
import type { TableEntry } from '../util/idle-table.js';
import { endServerStream } from '../util/grpc-server.js';
import type { Logger } from '../util/log.js';
import type { Closable } from '../util/var.js';
import type { ResourceSource } from './catalog.js';
import type { NackLog, NackLogStream } from './nack-log.js';
import { resourceTypeOf, TYPE_URLS, type DiscoveryRequest, type DiscoveryResponse, type ResourceType } from './protos.js';
import { parseResourceName, type ResourceKey } from './resource-names.js';
import type { PackedResource } from './resources.js';

export type AdsCall = grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>;

/** What a stream needs of its server: names, limits, logs. */
export interface AdsOwner {
  acquire(name: ResourceKey): TableEntry<string, { source: ResourceSource }> | undefined;
  /** Count `n` more subscriptions of `client`: why not (naming the limit, counted), or undefined when counted. */
  subscribe(client: string, n: number): string | undefined;
  unsubscribe(client: string, n: number): void;
  readonly maxNamesPerStream: number;
  readonly maxNames: number;
  readonly log: Logger;
  readonly nackLog: NackLog;
  readonly metrics: Metrics;
  namesPerStreamFull(): void;
  ended(stream: AdsStream): void;
}

interface Subscription {
  entry: TableEntry<string, { source: ResourceSource }>;
  observation: Closable;
  /** RDS/EDS: what this stream last sent for the name (undefined: nothing yet), so it is sent again only when it changes. */
  sent?: PackedResource;
}

/** One resource type on one stream as `describe()` tells it; times are epoch ms (0: never). */
export interface TypeDescription {
  nameCount: number;
  version: string;
  acked: string;
  sentAt: number;
  lastNack?: string;
  nackAt?: number;
}

/**
 * State-of-the-world responses of these types carry every subscribed resource (one left out does
 * not exist); RDS and EDS responses need carry only what changed, and clients keep the rest (xDS
 * protocol, "Resource types that are not LDS/CDS (RDS/EDS) need not contain all resources").
 */
const FULL_STATE: ReadonlySet<ResourceType> = new Set(['listener', 'cluster']);

/** One resource type on one stream: what is subscribed, and what was last sent and acknowledged. */
class TypeState {
  readonly names = new Map<string, Subscription>();
  /** RDS/EDS: names newly subscribed, or whose resource changed, since the last response. */
  readonly changed = new Set<string>();
  /** Versions count this stream's responses of this type. */
  version = 0;
  nonce = '';
  /** LDS/CDS: the resources of the last response, to answer only when something changed. */
  sent: readonly PackedResource[] | undefined;
  acked = '';
  lastNack: string | undefined;
  /** When the last response and the last NACK were (epoch ms), for the admin's lag view. */
  sentAt = 0;
  nackAt = 0;
  /** A response is due (the subscription or a resource changed); sent on the next flush. */
  due = false;
  /** The subscription changed since the last response: answer even if the resources are the same. */
  resubscribed = false;
}

/**
 * One StreamAggregatedResources stream, state of the world: per resource type, the names the client
 * subscribes to (each request carries the full list; only names new to the stream are parsed), a
 * version and nonce per response, and ACK/NACK bookkeeping. A Listener or Cluster response carries
 * every subscribed resource that exists and is known; one that does not exist is left out (xDS "does
 * not exist"). A RouteConfiguration or ClusterLoadAssignment response carries only the resources
 * newly subscribed or changed since this stream last sent them, so a change costs each subscriber
 * one resource, however many it follows; an assignment whose name stops existing is sent once with
 * no endpoints, since EDS cannot say "does not exist" by leaving it out. A resource still pending is
 * left out until known; a rejected (NACKed) one is not sent again until it changes. A type is
 * answered when its subscription changes and whenever one of its resources does, at most once per
 * turn of the event loop, and never faster than the client reads.
 */
export class AdsStream implements NackLogStream {
  private readonly types = new Map<ResourceType, TypeState>();
  /** Names followed over all types, as counted against the client's subscriptions. */
  private subscriptions = 0;
  nackLoggedAt = -Infinity;
  private node = '';
  private cluster = '';
  private locality = '';
  private nonces = 0;
  private flushQueued = false;
  private done = false;

  constructor(
    private readonly call: AdsCall,
    /** The client address its subscriptions count against. */
    readonly client: string,
    private readonly owner: AdsOwner,
  ) {
    owner.metrics.xdsStreams.inc();
    call.on('data', (m: DiscoveryRequest) => this.onRequest(m));
    call.on('end', () => this.end(grpc.status.OK, ''));
    call.on('cancelled', () => this.finish('CANCELLED'));
    call.on('error', () => this.finish('CANCELLED'));
    call.on('close', () => this.finish('CANCELLED'));
    call.on('drain', () => this.flush());
  }

  /** For the admin view and tests: the client's node id and, per type, how many names, versions and when each was last sent and NACKed. */
  describe(): { node: string; cluster: string; locality: string; types: Record<string, TypeDescription> } {
    const types: Record<string, TypeDescription> = {};
    for (const [t, s] of this.types) {
      types[t] = { nameCount: s.names.size, version: String(s.version), acked: s.acked, sentAt: s.sentAt, ...(s.lastNack ? { lastNack: s.lastNack, nackAt: s.nackAt } : {}) };
    }
    return { node: this.node, cluster: this.cluster, locality: this.locality, types };
  }

  /** The first `limit` names followed of `type` (a page lists a few of thousands: it copies no more). */
  names(type: string, limit = Infinity): string[] {
    const out: string[] = [];
    const state = this.types.get(type as ResourceType);
    if (state === undefined) return out;
    for (const name of state.names.keys()) {
      if (out.length >= limit) break;
      out.push(name);
    }
    return out;
  }

  /** gRPC clients send the node in their first request only. Client-chosen text, kept and logged: clipped. */
  private readNode(node: NonNullable<DiscoveryRequest['node']>): void {
    if (node.id) this.node = node.id.slice(0, 256);
    this.cluster = node.cluster.slice(0, 256);
    const l = node.locality;
    this.locality = l ? [l.region, l.zone, l.sub_zone].filter(Boolean).join('/').slice(0, 256) : '';
  }

  private onRequest(m: DiscoveryRequest): void {
    if (this.done) return;
    if (m.node) this.readNode(m.node);
    const type = resourceTypeOf(m.type_url);
    if (type === undefined) {
      const shown = m.type_url === '' ? 'an empty type_url' : `type_url ${JSON.stringify(m.type_url.slice(0, 200))}`;
      return this.end(grpc.status.INVALID_ARGUMENT, `${shown} is not served here (served: ${Object.values(TYPE_URLS).join(', ')})`);
    }
    if (m.resource_names.length > this.owner.maxNamesPerStream) {
      this.owner.namesPerStreamFull();
      return this.end(grpc.status.RESOURCE_EXHAUSTED, `${m.resource_names.length} ${type} names on one stream; at most ${this.owner.maxNamesPerStream} are served (xds.maxNamesPerStream)`);
    }
    let state = this.types.get(type);
    // Each request repeats every name (an ACK too): parse only those the stream does not follow yet.
    const wanted = new Set(m.resource_names);
    const added = new Map<string, ResourceKey>();
    for (const name of wanted) {
      if (state?.names.has(name)) continue;
      this.owner.metrics.xdsNamesParsed.inc();
      const p = parseResourceName(type, name);
      if ('error' in p) return this.end(grpc.status.INVALID_ARGUMENT, p.error);
      added.set(name, p);
    }
    const first = state === undefined;
    if (state === undefined) this.types.set(type, (state = new TypeState()));
    // A request answering an older response crossed ours on the wire: its ACK/NACK is out of date.
    const current = m.response_nonce === state.nonce;
    if (current && m.response_nonce !== '') {
      if (m.error_detail) {
        const error = m.error_detail.message.slice(0, 2000);
        this.owner.metrics.xdsNacks.inc({ type });
        // Every NACK counts; the same rejection repeated is not logged again, others at a bounded rate (NackLog).
        if (error !== state.lastNack) {
          this.owner.nackLog.rejected(this, { node: this.node, type, version: String(state.version), code: m.error_detail.code, error });
        }
        state.lastNack = error;
        state.nackAt = Date.now();
      } else {
        state.acked = m.version_info.slice(0, 64);
        state.lastNack = undefined;
        this.owner.metrics.xdsAcks.inc({ type });
      }
    }
    if (this.resubscribe(type, state, wanted, added) || first) {
      state.resubscribed = true;
      this.schedule(state);
    }
  }

  /** Follow exactly the `wanted` names (`added`: those not followed yet); whether the set changed. Ends the stream when the catalog or the client's subscriptions are full. */
  private resubscribe(type: ResourceType, state: TypeState, wanted: ReadonlySet<string>, added: ReadonlyMap<string, ResourceKey>): boolean {
    let changed = false;
    let dropped = 0;
    for (const [name, sub] of state.names) {
      if (wanted.has(name)) continue;
      sub.observation.close();
      sub.entry.release();
      // What was sent goes with the subscription: a name asked for again is sent again.
      state.names.delete(name);
      state.changed.delete(name);
      dropped++;
      changed = true;
    }
    this.subscriptions -= dropped;
    this.owner.unsubscribe(this.client, dropped);
    const refused = this.owner.subscribe(this.client, added.size);
    if (refused !== undefined) {
      this.end(grpc.status.RESOURCE_EXHAUSTED, `${refused}; cannot follow ${added.size} more ${type} names`);
      return false;
    }
    this.subscriptions += added.size;
    for (const [name, meaning] of added) {
      const entry = this.owner.acquire(meaning);
      if (entry === undefined) {
        this.end(grpc.status.RESOURCE_EXHAUSTED, `the control plane follows ${this.owner.maxNames} names, each with a subscriber (xds.maxNames); cannot follow ${type} ${JSON.stringify(name)}`);
        return false;
      }
      const observation = entry.value.source.observe(() => {
        state.changed.add(name);
        this.schedule(state);
      });
      state.names.set(name, { entry, observation });
      state.changed.add(name);
      changed = true;
    }
    return changed;
  }

  private schedule(state: TypeState): void {
    state.due = true;
    if (this.flushQueued || this.done) return;
    this.flushQueued = true;
    queueMicrotask(() => {
      this.flushQueued = false;
      this.flush();
    });
  }

  private flush(): void {
    for (const [type, state] of this.types) {
      if (this.done || this.call.writableNeedDrain) return;
      if (state.due) this.respond(type, state);
    }
  }

  private respond(type: ResourceType, state: TypeState): void {
    state.due = false;
    const resources = FULL_STATE.has(type) ? this.fullState(type, state) : this.changedOnly(type, state);
    if (resources === undefined) return;
    state.resubscribed = false;
    state.version++;
    state.sentAt = Date.now();
    state.nonce = String(++this.nonces);
    this.owner.metrics.xdsResponses.inc({ type });
    this.call.write({ version_info: String(state.version), resources, type_url: TYPE_URLS[type], nonce: state.nonce });
  }

  /** Every subscribed resource that exists and is known; undefined when that is what was last sent and the subscription is the same. */
  private fullState(type: ResourceType, state: TypeState): PackedResource[] | undefined {
    state.changed.clear();
    const resources: PackedResource[] = [];
    for (const sub of state.names.values()) {
      const r = sub.entry.value.source.resource(type);
      if (r !== 'absent' && r !== 'pending') resources.push(r);
    }
    // Nothing new to say: a change that encodes the same (a Cluster when only its endpoints moved).
    if (!state.resubscribed && state.sent !== undefined && sameResources(state.sent, resources)) return undefined;
    state.sent = resources;
    return resources;
  }

  /**
   * The resources of the names changed or newly subscribed that differ from what this stream last
   * sent of them (a name that stopped existing: its `gone` form, if it had been sent); undefined when
   * there are none and the subscription is the same.
   */
  private changedOnly(type: ResourceType, state: TypeState): PackedResource[] | undefined {
    const resources: PackedResource[] = [];
    for (const name of state.changed) {
      const sub = state.names.get(name)!;
      const r = sub.entry.value.source.resource(type);
      const next = r === 'pending' ? undefined : r === 'absent' ? (sub.sent && sub.entry.value.source.gone(type)) : r;
      if (next === undefined || (sub.sent !== undefined && sameResource(sub.sent, next))) continue;
      sub.sent = next;
      resources.push(next);
    }
    state.changed.clear();
    return resources.length > 0 || state.resubscribed ? resources : undefined;
  }

  /** End the stream with a status (OK ends it cleanly) and let go of its names. */
  end(code: grpc.status, message: string): void {
    if (this.done) return;
    // Debug: a client can end streams as fast as it opens them; kgr_xds_streams_ended_total{code} counts them.
    if (code !== grpc.status.OK) this.owner.log.debug('xDS stream ended', { node: this.node, code: grpc.status[code], message });
    this.finish(grpc.status[code]);
    endServerStream(this.call as grpc.ServerDuplexStream<unknown, unknown>, code, message);
  }

  private finish(code: string): void {
    if (this.done) return;
    this.done = true;
    for (const state of this.types.values()) {
      for (const sub of state.names.values()) {
        sub.observation.close();
        sub.entry.release();
      }
      state.names.clear();
    }
    this.owner.unsubscribe(this.client, this.subscriptions);
    this.subscriptions = 0;
    this.owner.metrics.xdsStreams.dec();
    this.owner.metrics.xdsStreamsEnded.inc({ code });
    this.owner.ended(this);
  }
}

function sameResources(a: readonly PackedResource[], b: readonly PackedResource[]): boolean {
  return a.length === b.length && a.every((r, i) => sameResource(r, b[i]!));
}

/** Encodings are shared by every stream, so the same change is usually the same object. */
function sameResource(a: PackedResource, b: PackedResource): boolean {
  return a === b || a.value.equals(b.value);
}
