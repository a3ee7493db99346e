import type { Activity } from '../../util/activity.js';
import { constant, ok } from '../../util/activity.js';
import type { Logger } from '../../util/log.js';
import type { Metrics } from '../../telemetry/metrics.js';
import type { Name } from '../../dtab/name.js';
import type { NameTree } from '../../dtab/nametree.js';
import { Neg } from '../../dtab/nametree.js';
import { Path } from '../../dtab/path.js';
import type { Namer, NamerReadiness } from '../namer.js';
import { namerKey } from '../kind.js';
import type { LiveName } from '../live-name.js';
import { NameTable } from '../name-table.js';
import { Refused, askUntilRoom } from '../ask-until-room.js';
import { CreationRate, OVER_RATE, WATCH_RATE, type CreationRateSettings } from '../creation-rate.js';
import { realClock } from '../../util/clock.js';
import { IdleTable, type TableEntry } from '../../util/idle-table.js';
import type { Clock } from '../../util/clock.js';
import type { KubeConnection } from './connection.js';
import { canonicalPort, sliceAddresses, slicePortName } from './endpoints.js';
import { ServiceWatch } from './service-watch.js';
import { MAX_WATCHES } from './watch-cost.js';

export interface K8sNamerOptions {
  /** The full prefix, e.g. `/#/io.l5d.k8s`. */
  prefix: Path;
  connection: KubeConnection;
  metrics: Metrics;
  log: Logger;
  /** `io.l5d.k8s.ns`: every path is in this namespace and has no namespace segment. */
  fixedNamespace?: string;
  /** Prefer endpoints on this node when any is ready there. */
  localNode?: string;
  idleTtlMs?: number;
  /** Most (namespace, service) watches open at once: idle ones are closed first, then new names fail. Default MAX_WATCHES. */
  maxWatches?: number;
  /** Most (namespace, port, service) names at once: idle ones make room, then new names fail. Default 1000. */
  maxNames?: number;
  /** How fast new watches may start; a name over it stays pending until one may. Default WATCH_RATE. */
  watchRate?: CreationRateSettings;
  backoffMinMs?: number;
  backoffMaxMs?: number;
  watchTimeoutSecs?: number;
  /** List page size (`limit`; the rest follows with `continue`). Default 500. */
  pageSize?: number;
  /** Seconds a watch may stay silent past its server-side timeout before it is abandoned. Default 30. */
  stallGraceSecs?: number;
  /** The tables' time (tests). */
  clock?: Clock;
  /** Its config entry's key (`namers[0]`), under which refusals name the limit that refused. */
  configKey?: string;
}

const NEG = constant<NameTree<Name>>(ok(Neg));

/**
 * `io.l5d.k8s`: `/<namespace>/<port>/<service>[/residual]` (the three segments lower-cased) and
 * `io.l5d.k8s.ns`: `/<port>/<service>[/residual]`. Answers Neg when the Service or the port does not
 * exist, a bound name with an empty address set when no endpoint is ready, pending until both the
 * slices and the Service have been listed; endpoint churn updates the bound name's `addr` in place.
 * A numeric `<port>` is read as Linkerd 1 did (`080` is port 80) and named canonically (`…/80/…`),
 * so spellings share one name; names are at most `maxNames`, as each costs work on every event.
 */
export class K8sNamer implements Namer {
  /** One watch pair per (namespace, service), kept an idle TTL after its last name leaves (seconds when the Service is absent). */
  private readonly watches: IdleTable<string, ServiceWatch>;
  /** Names are cheap (the watch is what costs): let go as soon as nobody observes them. */
  private readonly names: NameTable;
  private readonly label: string;

  private readonly unwatchTables: (() => void)[];
  private readonly watchRate: CreationRate;
  private readonly watchRateReached: { inc(): void };

  constructor(private readonly options: K8sNamerOptions) {
    this.label = options.prefix.show();
    const full = options.metrics.limitsReached.labels({ namer: this.label, limit: this.key('maxWatches') });
    this.watchRate = new CreationRate(options.watchRate ?? WATCH_RATE, options.clock ?? realClock);
    this.watchRateReached = options.metrics.limitsReached.labels({ namer: this.label, limit: this.key('watchesPerSecond') });
    this.watches = new IdleTable<string, ServiceWatch>({
      idleTtlMs: options.idleTtlMs ?? 600_000,
      // A watch nobody uses that never listed (API slow or down, a made-up name) keeps nothing worth keeping warm.
      isTransient: (watch) => watch.absent || !watch.synced,
      maxEntries: this.maxWatches,
      onFull: () => full.inc(),
      dispose: (watch) => watch.close(),
      clock: options.clock,
    });
    // Every name recomputes its address set on each event of its Service: `l5d-dtab` must not make them without bound.
    const maxNames = this.maxNames;
    const namesFull = options.metrics.limitsReached.labels({ namer: this.label, limit: this.key('maxNames') });
    this.names = new NameTable({
      idleTtlMs: 0,
      maxNames,
      onFull: () => namesFull.inc(),
      refusal: (key) => `too many Kubernetes names in use (${this.key('maxNames')} ${maxNames}): not discovering ${key}`,
      clock: options.clock,
    });
    this.unwatchTables = [
      options.metrics.watchTable({ namer: this.label, table: 'watches' }, () => this.watches.size),
      options.metrics.watchTable({ namer: this.label, table: 'names' }, () => this.names.size),
    ];
  }

  lookup(path: Path): Activity<NameTree<Name>> {
    const fixed = this.options.fixedNamespace;
    const need = fixed === undefined ? 3 : 2;
    if (path.size < need) return NEG;
    const segs = path.segments.slice(0, need).map((s) => s.toLowerCase());
    const portAt = need - 2;
    // One name per port whatever its spelling (`080` is `80`); a port no Service can have is Neg, with no name made.
    const port = canonicalPort(segs[portAt]!);
    if (port === undefined) return NEG;
    segs[portAt] = port;
    const [namespace, , service] = fixed === undefined ? segs : [fixed, ...segs];
    if (!namespace || !service) return NEG;
    const id = this.options.prefix.concat(new Path(segs));
    const name = this.names.get(`${namespace}/${port}/${service}`, id, (sink) => this.discover(sink, namespace, port, service));
    return name.lookup(path.drop(need));
  }

  /**
   * Feed one (namespace, port, service) name from the shared watch of its service. With every watch
   * in use, the name fails naming the limit and, while observed, asks for the watch again after a
   * short backoff: a flood of `l5d-dtab` services must not leave a name refused once it is gone.
   * Over `watchRate` it stays pending, saying why, and asks again the same way.
   */
  private discover(sink: LiveName, namespace: string, port: string, service: string): () => void {
    // Names come from requests too (l5d-dtab, xDS, the delegator): the API server must not pay for every one of them.
    const full = new Refused(`too many Kubernetes watches in use (${this.key('maxWatches')} ${this.maxWatches}): not watching ${namespace}/${service}`, false);
    const limited = new Refused(`new Kubernetes watches are over ${this.key('watchesPerSecond')}: not watching ${namespace}/${service} yet`, true);
    return askUntilRoom({
      sink,
      ask: (again) => {
        // Only a new watch spends the rate, and only if it starts (CreationRate.admit).
        const get = () => this.watch(namespace, service, again);
        const watch = this.watches.peek(`${namespace}/${service}`) === undefined ? this.watchRate.admit(get) : get();
        if (watch === OVER_RATE) {
          if (!again) this.watchRateReached.inc();
          return limited;
        }
        return watch ?? full;
      },
      admitted: (watch, again) => {
        // The refusal said nothing about the Service: wait for the watch's first list.
        if (again) sink.update('pending');
        sink.lastError = undefined;
        return this.follow(sink, watch, namespace, port, service);
      },
      clock: this.options.clock ?? realClock,
    });
  }

  private follow(sink: LiveName, watch: ServiceWatch, namespace: string, port: string, service: string): () => void {
    watch.acquire();
    const recompute = () => {
      if (!watch.synced) {
        // Before the first full list we know nothing, but why it has not come (403, API down, …);
        // after it, never go back to pending.
        if (sink.state === 'pending') {
          sink.lastError = watch.slices.lastError ?? watch.service.lastError;
          return;
        }
      }
      const svc = watch.service.objects.get(service);
      const portName = slicePortName(svc, port);
      if (portName === undefined) {
        sink.lastError = svc ? `service ${namespace}/${service} has no port ${port}` : `service ${namespace}/${service} not found`;
        sink.update('neg');
        return;
      }
      sink.lastError = undefined;
      sink.update('bound', sliceAddresses(watch.slices.objects.values(), portName, this.options.localNode));
    };
    const unsubscribe = watch.subscribe(recompute);
    recompute();
    return () => {
      unsubscribe();
      watch.release();
    };
  }

  private key(name: string): string {
    return namerKey(this.options.configKey, name);
  }

  private get maxWatches(): number {
    return this.options.maxWatches ?? MAX_WATCHES;
  }

  private get maxNames(): number {
    return this.options.maxNames ?? 1000;
  }

  /** The watch of (namespace, service), undefined when every watch is in use; `again` after a refusal (not counted again). */
  private watch(namespace: string, service: string, again: boolean): ServiceWatch | undefined {
    const key = `${namespace}/${service}`;
    const make = (entry: TableEntry<string, ServiceWatch>): ServiceWatch => {
      const { metrics } = this.options;
      const events = new Map<string, ReturnType<typeof metrics.namerEvents.labels>>();
      const lastSync = metrics.namerLastSync.labels({ namer: this.label });
      return new ServiceWatch(
        this.options.connection,
        namespace,
        service,
        {
          log: this.options.log,
          backoffMinMs: this.options.backoffMinMs,
          backoffMaxMs: this.options.backoffMaxMs,
          watchTimeoutSecs: this.options.watchTimeoutSecs,
          pageSize: this.options.pageSize,
          stallGraceSecs: this.options.stallGraceSecs,
          onEvent: (type) => {
            let counter = events.get(type);
            if (!counter) events.set(type, (counter = metrics.namerEvents.labels({ namer: this.label, type })));
            counter.inc();
          },
          onSync: () => lastSync.set(Date.now() / 1000),
          onReconnect: (reason) => metrics.namerReconnects.inc({ namer: this.label, reason }),
        },
        entry,
      );
    };
    return (again ? this.watches.getAgain(key, make) : this.watches.get(key, make))?.value;
  }

  /** Number of (namespace, service) watches currently open (shared across ports and routes). */
  get openWatches(): number {
    return this.watches.size;
  }

  /**
   * Not ready while a watch some route uses has never completed its first list (API down, 403, …):
   * the reason names each namespace/service and the last error of its list.
   */
  ready(): NamerReadiness {
    const waiting: string[] = [];
    for (const { value: watch, refs } of this.watches.values()) {
      if (refs === 0 || watch.synced) continue;
      const error = watch.slices.lastError ?? watch.service.lastError ?? 'waiting for the first list';
      waiting.push(`${this.label} ${watch.namespace}/${watch.name} not synced: ${error}`);
    }
    return waiting.length === 0 ? { ready: true } : { ready: false, reason: waiting.join('; ') };
  }

  state(): unknown {
    const names = this.names.endpointsState();
    const watches: Record<string, unknown> = {};
    for (const { key, value, refs } of this.watches.values()) watches[key] = { users: refs, ...(value.state() as object) };
    return { api: this.options.connection.source, server: this.options.connection.server, names, watches };
  }

  close(): void {
    for (const unwatch of this.unwatchTables) unwatch();
    this.names.close();
    this.watches.close();
  }
}
