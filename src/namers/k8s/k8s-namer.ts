import type { Activity } from '../../util/activity.js';
import { constant, ok } from '../../util/activity.js';
import type { Logger } from '../../util/log.js';
import type { Metrics } from '../../telemetry/metrics.js';
import type { Name } from '../../dtab/name.js';
import type { NameTree } from '../../dtab/nametree.js';
import { Neg } from '../../dtab/nametree.js';
import { Path } from '../../dtab/path.js';
import type { Namer, NamerReadiness } from '../namer.js';
import { LiveName } from '../live-name.js';
import type { KubeConnection } from './connection.js';
import { sliceAddresses, slicePortName } from './endpoints.js';
import { ServiceWatch } from './service-watch.js';

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
  /** Most (namespace, service) watches open at once: idle ones are closed first, then new names fail. Default 1000. */
  maxWatches?: number;
  backoffMinMs?: number;
  backoffMaxMs?: number;
  watchTimeoutSecs?: number;
  /** List page size (`limit`; the rest follows with `continue`). Default 500. */
  pageSize?: number;
  /** Seconds a watch may stay silent past its server-side timeout before it is abandoned. Default 30. */
  stallGraceSecs?: number;
}

const NEG = constant<NameTree<Name>>(ok(Neg));

/**
 * `io.l5d.k8s`: `/<namespace>/<port>/<service>[/residual]` (the three segments lower-cased) and
 * `io.l5d.k8s.ns`: `/<port>/<service>[/residual]`. Answers Neg when the Service or the port does not
 * exist, a bound name with an empty address set when no endpoint is ready, pending until both the
 * slices and the Service have been listed; endpoint churn updates the bound name's `addr` in place.
 */
export class K8sNamer implements Namer {
  private readonly watches = new Map<string, ServiceWatch>();
  private readonly names = new Map<string, LiveName>();
  private readonly label: string;

  private readonly unwatchTables: (() => void)[];

  constructor(private readonly options: K8sNamerOptions) {
    this.label = options.prefix.show();
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
    const [namespace, port, service] = fixed === undefined ? segs : [fixed, ...segs];
    if (!namespace || !port || !service) return NEG;
    const key = `${namespace}/${port}/${service}`;
    let name = this.names.get(key);
    if (!name) {
      const id = this.options.prefix.concat(new Path(segs));
      name = new LiveName(id, (sink) => this.discover(sink, namespace, port, service), 0, () => {
        if (this.names.get(key) === name && !name!.addr.observed) this.names.delete(key);
      });
      this.names.set(key, name);
    }
    return name.lookup(path.drop(need));
  }

  /** Feed one (namespace, port, service) name from the shared watch of its service. */
  private discover(sink: LiveName, namespace: string, port: string, service: string): () => void {
    const watch = this.watch(namespace, service);
    if (watch === undefined) {
      // Names come from requests too (l5d-dtab): the API server must not pay for every one of them.
      sink.fail(`too many Kubernetes watches in use (maxWatches ${this.maxWatches}): not watching ${namespace}/${service}`);
      return () => {};
    }
    watch.acquire();
    const recompute = () => {
      if (!watch.synced) {
        // Before the first full list we know nothing; after it, never go back to pending.
        if (sink.state === 'pending') return;
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

  private get maxWatches(): number {
    return this.options.maxWatches ?? 1000;
  }

  private watch(namespace: string, service: string): ServiceWatch | undefined {
    const key = `${namespace}/${service}`;
    let watch = this.watches.get(key);
    if (watch) return watch;
    if (this.watches.size >= this.maxWatches) {
      this.options.metrics.limitsReached.inc({ namer: this.label, limit: 'maxWatches' });
      if (!this.closeIdleWatch()) return undefined;
    }
    const { metrics } = this.options;
    const events = new Map<string, ReturnType<typeof metrics.namerEvents.labels>>();
    const lastSync = metrics.namerLastSync.labels({ namer: this.label });
    watch = new ServiceWatch(
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
      this.options.idleTtlMs ?? 600_000,
      () => {
        if (this.watches.get(key) === watch) this.watches.delete(key);
      },
    );
    this.watches.set(key, watch);
    return watch;
  }

  /** Close the oldest watch no name uses (one kept open for its idle TTL). */
  private closeIdleWatch(): boolean {
    for (const watch of this.watches.values()) {
      if (!watch.idle) continue;
      watch.close();
      return true;
    }
    return false;
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
    for (const watch of this.watches.values()) {
      if (watch.idle || watch.synced) continue;
      const error = watch.slices.lastError ?? watch.service.lastError ?? 'waiting for the first list';
      waiting.push(`${this.label} ${watch.namespace}/${watch.name} not synced: ${error}`);
    }
    return waiting.length === 0 ? { ready: true } : { ready: false, reason: waiting.join('; ') };
  }

  state(): unknown {
    const names: Record<string, unknown> = {};
    for (const [key, name] of this.names) {
      const addr = name.addr.sample;
      names[key] = {
        state: name.state,
        addrs: addr.type === 'bound' ? addr.addrs.map((a) => ({ host: a.host, port: a.port, ...a.meta })) : addr.type,
        lastError: name.lastError,
      };
    }
    const watches: Record<string, unknown> = {};
    for (const [key, watch] of this.watches) watches[key] = watch.state();
    return { api: this.options.connection.source, server: this.options.connection.server, names, watches };
  }

  close(): void {
    for (const unwatch of this.unwatchTables) unwatch();
    for (const name of [...this.names.values()]) name.close();
    for (const watch of [...this.watches.values()]) watch.close();
    this.names.clear();
    this.watches.clear();
  }
}
