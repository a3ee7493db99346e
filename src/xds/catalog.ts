import { Dtab } from '../dtab/dtab.js';
import { NameFeed, type FeedState, type NameBindingDeps } from '../dtab/name-feed.js';
import { Path } from '../dtab/path.js';
import { IdleTable, type TableEntry } from '../util/idle-table.js';
import { Var, type Closable } from '../util/var.js';
import type { ResourceType } from './protos.js';
import type { ResourceKey } from './resource-names.js';
import { clusterLoadAssignmentResource, clusterResource, listenerResource, routeConfigurationResource, type PackedResource } from './resources.js';
import { endpointView, routeView, sameEndpoints, sameRoute } from './views.js';

/** A resource now: encoded, known not to exist (Neg, a failed binding, no clusters), or not known yet. */
export type ResourceState = PackedResource | 'absent' | 'pending';

/**
 * The live resources of one name, shared by every stream that asks for it: a service's Listener
 * and RouteConfiguration, or a bound id's Cluster and ClusterLoadAssignment. Encodings are made
 * once per change, whatever the number of streams.
 */
export interface ResourceSource {
  resource(type: ResourceType): ResourceState;
  /**
   * What a stream that had sent this resource sends once it stops existing: for EDS an assignment
   * with no endpoints (leaving it out says nothing, and clients would keep calling the old ones);
   * undefined for the types whose responses say "does not exist" by leaving it out.
   */
  gone(type: ResourceType): PackedResource | undefined;
  /** Call `onChange` after each change (not now); close to stop. */
  observe(onChange: () => void): Closable;
  close(): void;
}

/** Both views (a route's targets, an id's localities) are lists: empty when there is nothing to call. */
class FeedSource<T extends readonly unknown[]> implements ResourceSource {
  private cache = new Map<ResourceType, ResourceState>();
  private tombstones = new Map<ResourceType, PackedResource | undefined>();

  constructor(
    private readonly feed: NameFeed<T>,
    private readonly encode: (type: ResourceType, value: T) => PackedResource | 'absent',
    private readonly encodeGone: (type: ResourceType) => PackedResource | undefined = () => undefined,
  ) {}

  gone(type: ResourceType): PackedResource | undefined {
    if (!this.tombstones.has(type)) this.tombstones.set(type, this.encodeGone(type));
    return this.tombstones.get(type);
  }

  resource(type: ResourceType): ResourceState {
    let r = this.cache.get(type);
    if (r === undefined) {
      const s: FeedState<T> = this.feed.state.sample;
      r = s.kind === 'pending' ? 'pending' : s.kind === 'bound' ? this.encode(type, s.value) : 'absent';
      this.cache.set(type, r);
    }
    return r;
  }

  observe(onChange: () => void): Closable {
    let first = true;
    return this.feed.state.observe(() => {
      if (first) return void (first = false);
      onChange();
    });
  }

  /**
   * The name routes nowhere, failed to bind, has no answer yet, or is bound to nothing to call (a
   * discovery that gave none, was refused or is still asking past the binding timeout): kept only the
   * short, transient TTL when idle, so names nobody can follow do not keep their discovery asking.
   */
  get transient(): boolean {
    const s = this.feed.state.sample;
    return s.kind !== 'bound' || s.value.length === 0;
  }

  /** Forget encodings when the feed changes (observed before any stream, so first in line). */
  watchCache(): Closable {
    return this.feed.state.observe(() => this.cache.clear());
  }

  close(): void {
    this.feed.close();
  }
}

export interface CatalogDeps extends NameBindingDeps {
  /** Distinct names with live state at once. */
  maxNames: number;
  onFull: () => void;
}

/** Bound ids bind through the namers alone: the control plane's dtab is for services. */
const NO_DTAB = Var.value(Dtab.empty);

/**
 * Every name some stream follows, in one IdleTable (keyed `service:<name>` or `id:<path>`): its
 * binding and address watches live once, however many streams ask, and go when no stream has for
 * the idle TTL. The namers' own tables sit under this, so a flood of streams for the same names
 * adds no Kubernetes watches.
 */
export class ResourceCatalog {
  private readonly table: IdleTable<string, { source: FeedSource<readonly unknown[]>; cacheWatch: Closable }>;

  constructor(private readonly deps: CatalogDeps) {
    this.table = new IdleTable({
      idleTtlMs: deps.idleTtlMs,
      transientIdleTtlMs: deps.transientIdleTtlMs,
      isTransient: (v) => v.source.transient,
      maxEntries: deps.maxNames,
      onFull: deps.onFull,
      dispose: (v) => {
        v.cacheWatch.close();
        v.source.close();
      },
    });
  }

  get size(): number {
    return this.table.size;
  }

  /** The source for a service's or an id's resources, made if new; undefined when the table is full of names in use. */
  acquire(name: ResourceKey): TableEntry<string, { source: ResourceSource }> | undefined {
    const key = 'service' in name ? `service:${name.service}` : `id:${name.id.show()}`;
    const entry = this.table.get(key, () => {
      const source = 'service' in name ? this.serviceSource(name.service) : this.idSource(name.id);
      return { source: source as FeedSource<readonly unknown[]>, cacheWatch: source.watchCache() };
    });
    entry?.acquire();
    return entry;
  }

  private serviceSource(service: string): FeedSource<readonly unknown[]> {
    const path = this.deps.dstPrefix.concat(Path.of(service));
    const feed = new NameFeed(path, this.deps.interpreter.bind(this.deps.dtab, path), {
      bindingTimeoutMs: this.deps.bindingTimeoutMs,
      dtabText: () => this.deps.dtab.sample.show(),
      view: routeView,
      same: sameRoute,
    });
    return new FeedSource(feed, (type, targets) => {
      if (targets.length === 0) return 'absent';
      if (type === 'listener') return listenerResource(service);
      if (type === 'route') return routeConfigurationResource(service, targets);
      return 'absent';
    }) as FeedSource<readonly unknown[]>;
  }

  private idSource(id: Path): FeedSource<readonly unknown[]> {
    const feed = new NameFeed(id, this.deps.interpreter.bind(NO_DTAB, id), {
      bindingTimeoutMs: this.deps.bindingTimeoutMs,
      dtabText: () => '',
      view: endpointView,
      same: sameEndpoints,
    });
    const name = id.show();
    return new FeedSource(
      feed,
      (type, localities) => {
        if (type === 'cluster') return clusterResource(name);
        if (type === 'endpoint') return clusterLoadAssignmentResource(name, localities);
        return 'absent';
      },
      (type) => (type === 'endpoint' ? clusterLoadAssignmentResource(name, []) : undefined),
    ) as FeedSource<readonly unknown[]>;
  }

  close(): void {
    this.table.close();
  }
}
