import type { Activity } from '../util/activity.js';
import { constant, ok } from '../util/activity.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { Addr, Name } from '../dtab/name.js';
import type { NameTree } from '../dtab/nametree.js';
import { Neg } from '../dtab/nametree.js';
import { Path } from '../dtab/path.js';
import type { Var } from '../util/var.js';
import { DnsNamerBase, type DnsRefreshOptions } from './dns-refresh.js';
import { HostNames, resolveInto, sharedHostNames } from './host-names.js';

export type { DnsRefreshOptions } from './dns-refresh.js';

/**
 * `io.l5d.dns`: `/<host>/<port>[/residual]` → the host's A and AAAA records on that port.
 */
export class DnsNamer extends DnsNamerBase {
  lookup(path: Path): Activity<NameTree<Name>> {
    if (path.size < 2) return constant<NameTree<Name>>(ok(Neg));
    const host = path.segments[0]!.toLowerCase();
    const portText = path.segments[1]!;
    const port = Number(portText);
    if (!/^\d+$/.test(portText) || port < 1 || port > 65535 || !/^[a-z0-9_.:%-]+$/.test(host)) return constant<NameTree<Name>>(ok(Neg));
    const name = this.names.get(`${host}/${port}`, this.prefix.concat(Path.of(host, String(port))), (sink) =>
      resolveInto(sink, (h, ttl) => this.resolver.addresses(h, ttl), host, port, this.options),
    );
    return name.lookup(path.drop(2));
  }
}

/** Metric hooks for a DNS namer: results counted as watch events, successes as syncs. */
export function dnsMetricHooks(metrics: Metrics, namer: string): (kind: 'ok' | 'nxdomain' | 'error') => void {
  const counters = {
    ok: metrics.namerEvents.labels({ namer, type: 'resolved' }),
    nxdomain: metrics.namerEvents.labels({ namer, type: 'nxdomain' }),
    error: metrics.namerEvents.labels({ namer, type: 'error' }),
  };
  const lastSync = metrics.namerLastSync.labels({ namer });
  return (kind) => {
    counters[kind].inc();
    if (kind !== 'error') lastSync.set(Date.now() / 1000);
  };
}

/** A `/$/inet/<host>/<port>` resolver over its own host names table (custom DNS servers, tests). */
export function createHostResolver(options: DnsRefreshOptions = {}): (host: string, port: number) => Var<Addr> {
  const hosts = new HostNames(options);
  return (host, port) => hosts.inet(host, port);
}

/** `/$/inet` through the process's shared host names, the same table the global namer uses by default. */
export function resolveHost(host: string, port: number): Var<Addr> {
  return sharedHostNames().inet(host, port);
}
