import type { Name } from '../../dtab/name.js';
import type { NameTree } from '../../dtab/nametree.js';
import { Neg } from '../../dtab/nametree.js';
import { Path } from '../../dtab/path.js';
import type { NamerReadiness } from '../../dtab/namer.js';
import type { Namer } from '../../namers/namer.js';
import { NameTable } from '../../namers/name-table.js';
import { namerKey } from '../../namers/kind.js';
import type { Metrics } from '../../telemetry/metrics.js';
import { constant, ok, type Activity } from '../../util/activity.js';
import type { Clock } from '../../util/clock.js';
import type { Logger } from '../../util/log.js';
import { EdsClient } from './eds-client.js';

export interface XdsNamerOptions {
  /** The prefix it answers under, which is also how the control plane names these ids (`/#/io.l5d.k8s`). */
  prefix: Path;
  servers: readonly string[];
  nodeId: string;
  /** Path segments that form one id (3 for io.l5d.k8s: namespace, port, service); the rest is the residual. */
  idSegments: number;
  idleTtlMs: number;
  maxNames: number;
  initialFetchTimeoutMs: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  metrics: Metrics;
  log: Logger;
  /** Its entry's config key (`namers[0]`): limits and their errors name its keys under it (see namerKey). */
  configKey?: string;
  clock?: Clock;
  random?: () => number;
}

const NEG = constant<NameTree<Name>>(ok(Neg));

/**
 * `io.l5d.xds`: a namer that asks the control plane (`kube-grpc-router control`) for the endpoints
 * of the ids below its prefix instead of discovering them itself. Standing in for the control plane's
 * own namer under the same prefix, it leaves the dtab as it was: `/#/io.l5d.k8s/default/grpc/echo/rest`
 * subscribes EDS for the ClusterLoadAssignment named `/#/io.l5d.k8s/default/grpc/echo` (the control
 * plane names clusters by bound id), `/rest` the residual. Names live in a NameTable (idle TTL,
 * `maxNames`), so the subscription is exactly the names bindings use, and bounded: `l5d-dtab` can
 * name anything.
 */
export class XdsNamer implements Namer {
  private readonly names: NameTable;
  private readonly client: EdsClient;
  private readonly label: string;
  private readonly unwatchTable: () => void;

  constructor(private readonly options: XdsNamerOptions) {
    this.label = options.prefix.show();
    const { metrics } = options;
    const full = metrics.limitsReached.labels({ namer: this.label, limit: namerKey(options.configKey, 'maxNames') });
    const [acks, nacks] = [metrics.namerEvents.labels({ namer: this.label, type: 'xds ACK' }), metrics.namerEvents.labels({ namer: this.label, type: 'xds NACK' })];
    const lost = metrics.namerReconnects.labels({ namer: this.label, reason: 'xds stream lost' });
    this.client = new EdsClient({ ...options, onAck: () => acks.inc(), onNack: () => nacks.inc(), onStreamLost: () => lost.inc() });
    this.names = new NameTable({
      idleTtlMs: options.idleTtlMs,
      maxNames: options.maxNames,
      onFull: () => full.inc(),
      refusal: (key) => `too many xDS names in use (${namerKey(options.configKey, 'maxNames')} ${options.maxNames}): not subscribing to ${key}`,
      clock: options.clock,
    });
    this.unwatchTable = metrics.watchTable({ namer: this.label, table: 'names' }, () => this.names.size);
  }

  lookup(path: Path): Activity<NameTree<Name>> {
    const n = this.options.idSegments;
    if (path.size < n) return NEG;
    const segments = path.segments.slice(0, n);
    const id = this.options.prefix.concat(new Path(segments));
    const resource = id.show();
    const name = this.names.get(segments.join('/'), id, (sink) =>
      this.client.watch(resource, (update) => {
        if (update.kind === 'neg') {
          sink.lastError = `the control plane sent no endpoints for ${resource} within ${this.options.initialFetchTimeoutMs} ms`;
          return sink.update('neg');
        }
        sink.lastError = undefined;
        sink.update('bound', update.addrs);
      }),
    );
    return name.lookup(path.drop(n));
  }

  /** Not ready while a name in use awaits its first answer: says which, and how the connection stands. */
  ready(): NamerReadiness {
    const names = this.names.ready('xds');
    if (names.ready) return names;
    const c = this.client.connection;
    return { ready: false, reason: `xDS ${c.state} ${c.server}${c.lastError ? ` (last error: ${c.lastError})` : ''}; awaiting ${names.reason}` };
  }

  state(): unknown {
    return { servers: this.options.servers, nodeId: this.options.nodeId, connection: { ...this.client.connection }, subscribed: this.client.names, names: this.names.endpointsState() };
  }

  close(): void {
    this.unwatchTable();
    this.names.close();
    this.client.close();
  }
}
