import * as grpc from '@grpc/grpc-js';
import type { Metrics } from '../telemetry/metrics.js';
import type { TableEntry } from '../util/idle-table.js';
import { endServerStream } from '../util/grpc-server.js';
import type { Logger } from '../util/log.js';
import type { Closable } from '../util/var.js';
import type { ResourceSource } from './catalog.js';
import { resourceTypeOf, TYPE_URLS, type DiscoveryRequest, type DiscoveryResponse, type ResourceType } from './protos.js';
import { parseResourceName, type ResourceKey } from './resource-names.js';
import type { PackedResource } from './resources.js';

export type AdsCall = grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>;

/** What a stream needs of its server: names, limits, logs. */
export interface AdsOwner {
  acquire(name: ResourceKey): TableEntry<string, { source: ResourceSource }> | undefined;
  readonly maxNamesPerStream: number;
  readonly maxNames: number;
  readonly log: Logger;
  readonly metrics: Metrics;
  namesPerStreamFull(): void;
  ended(stream: AdsStream): void;
}

interface Subscription {
  entry: TableEntry<string, { source: ResourceSource }>;
  observation: Closable;
}

/** One resource type on one stream as `describe()` tells it; times are epoch ms (0: never). */
export interface TypeDescription {
  names: string[];
  version: string;
  acked: string;
  sentAt: number;
  lastNack?: string;
  nackAt?: number;
}

/** One resource type on one stream: what is subscribed, and what was last sent and acknowledged. */
class TypeState {
  readonly names = new Map<string, Subscription>();
  /** Versions count this stream's responses of this type. */
  version = 0;
  nonce = '';
  /** The resources of the last response, to send only what changed. */
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
 * subscribes to (each request carries the full list), a version and nonce per response, and ACK/NACK
 * bookkeeping. A response carries every subscribed resource that exists and is known; one that does
 * not exist is left out (xDS "does not exist"); one still pending is left out until known. A type is
 * answered when its subscription changes and whenever one of its resources does, at most once per
 * turn of the event loop, and never faster than the client reads.
 */
export class AdsStream {
  private readonly types = new Map<ResourceType, TypeState>();
  private node = '';
  private nonces = 0;
  private flushQueued = false;
  private done = false;

  constructor(
    private readonly call: AdsCall,
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

  /** For the admin view and tests: the client's node id and, per type, its names, versions and when each was last sent and NACKed. */
  describe(): { node: string; types: Record<string, TypeDescription> } {
    const types: Record<string, TypeDescription> = {};
    for (const [t, s] of this.types) {
      types[t] = { names: [...s.names.keys()], version: String(s.version), acked: s.acked, sentAt: s.sentAt, ...(s.lastNack ? { lastNack: s.lastNack, nackAt: s.nackAt } : {}) };
    }
    return { node: this.node, types };
  }

  private onRequest(m: DiscoveryRequest): void {
    if (this.done) return;
    // Client-chosen text, kept and logged: clipped.
    if (m.node?.id) this.node = m.node.id.slice(0, 256);
    const type = resourceTypeOf(m.type_url);
    if (type === undefined) {
      const shown = m.type_url === '' ? 'an empty type_url' : `type_url ${JSON.stringify(m.type_url.slice(0, 200))}`;
      return this.end(grpc.status.INVALID_ARGUMENT, `${shown} is not served here (served: ${Object.values(TYPE_URLS).join(', ')})`);
    }
    if (m.resource_names.length > this.owner.maxNamesPerStream) {
      this.owner.namesPerStreamFull();
      return this.end(grpc.status.RESOURCE_EXHAUSTED, `${m.resource_names.length} ${type} names on one stream; at most ${this.owner.maxNamesPerStream} are served (xds.maxNamesPerStream)`);
    }
    const parsed = new Map<string, ResourceKey>();
    for (const name of m.resource_names) {
      const p = parseResourceName(type, name);
      if ('error' in p) return this.end(grpc.status.INVALID_ARGUMENT, p.error);
      parsed.set(name, p);
    }
    let state = this.types.get(type);
    const first = state === undefined;
    if (state === undefined) this.types.set(type, (state = new TypeState()));
    // A request answering an older response crossed ours on the wire: its ACK/NACK is out of date.
    const current = m.response_nonce === state.nonce;
    if (current && m.response_nonce !== '') {
      if (m.error_detail) {
        const error = m.error_detail.message.slice(0, 2000);
        this.owner.metrics.xdsNacks.inc({ type });
        // Every NACK counts; the same rejection repeated is logged once, so a client cannot flood the log.
        if (error !== state.lastNack) {
          this.owner.log.warn('xDS client rejected a response (NACK)', { node: this.node, type, version: String(state.version), code: m.error_detail.code, error });
        }
        state.lastNack = error;
        state.nackAt = Date.now();
      } else {
        state.acked = m.version_info.slice(0, 64);
        state.lastNack = undefined;
        this.owner.metrics.xdsAcks.inc({ type });
      }
    }
    if (this.resubscribe(type, state, parsed) || first) {
      state.resubscribed = true;
      this.schedule(state);
    }
  }

  /** Follow exactly these names; whether the set changed. Ends the stream when the catalog is full. */
  private resubscribe(type: ResourceType, state: TypeState, wanted: Map<string, ResourceKey>): boolean {
    let changed = false;
    for (const [name, sub] of state.names) {
      if (wanted.has(name)) continue;
      sub.observation.close();
      sub.entry.release();
      state.names.delete(name);
      changed = true;
    }
    for (const [name, meaning] of wanted) {
      if (state.names.has(name)) continue;
      const entry = this.owner.acquire(meaning);
      if (entry === undefined) {
        this.end(grpc.status.RESOURCE_EXHAUSTED, `the control plane follows ${this.owner.maxNames} names, each with a subscriber (xds.maxNames); cannot follow ${type} ${JSON.stringify(name)}`);
        return false;
      }
      const observation = entry.value.source.observe(() => this.schedule(state));
      state.names.set(name, { entry, observation });
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
    const resources: PackedResource[] = [];
    for (const sub of state.names.values()) {
      const r = sub.entry.value.source.resource(type);
      if (r !== 'absent' && r !== 'pending') resources.push(r);
    }
    // Nothing new to say: a change that encodes the same (a Cluster when only its endpoints moved).
    if (!state.resubscribed && state.sent !== undefined && sameResources(state.sent, resources)) return;
    state.resubscribed = false;
    state.sent = resources;
    state.version++;
    state.sentAt = Date.now();
    state.nonce = String(++this.nonces);
    this.owner.metrics.xdsResponses.inc({ type });
    this.call.write({ version_info: String(state.version), resources, type_url: TYPE_URLS[type], nonce: state.nonce });
  }

  /** End the stream with a status (OK ends it cleanly) and let go of its names. */
  end(code: grpc.status, message: string): void {
    if (this.done) return;
    if (code !== grpc.status.OK) this.owner.log.info('xDS stream ended', { node: this.node, code: grpc.status[code], message });
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
    this.owner.metrics.xdsStreams.dec();
    this.owner.metrics.xdsStreamsEnded.inc({ code });
    this.owner.ended(this);
  }
}

function sameResources(a: readonly PackedResource[], b: readonly PackedResource[]): boolean {
  return a.length === b.length && a.every((r, i) => r === b[i] || r.value.equals(b[i]!.value));
}
