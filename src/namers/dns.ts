import type { Activity } from '../util/activity.js';
import { constant, ok } from '../util/activity.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { Addr, Address, Name } from '../dtab/name.js';
import type { NameTree } from '../dtab/nametree.js';
import { Neg } from '../dtab/nametree.js';
import { Path } from '../dtab/path.js';
import type { Var } from '../util/var.js';
import { Var as VarClass } from '../util/var.js';
import { DnsResolver } from './dns-resolver.js';
import type { LiveName } from './live-name.js';
import { DnsNamerBase, DnsNames, MIN_REFRESH_MS, refreshLoop, type DnsRefreshOptions } from './dns-refresh.js';
import { isIP } from 'node:net';

export type { DnsRefreshOptions } from './dns-refresh.js';

/**
 * Keep `sink` answering for `host:port`: resolve, then re-resolve when the shortest TTL runs out,
 * capped at the refresh interval. NXDOMAIN (or no A/AAAA at all) → Neg; resolver errors keep the last
 * good answer and retry with backoff.
 */
export function resolveInto(sink: LiveName, resolver: DnsResolver, host: string, port: number, options: DnsRefreshOptions): () => void {
  return refreshLoop(options, async (r) => {
    const answer = await resolver.addresses(host, r.refreshMs / 1000);
    if (r.stopped()) return undefined;
    options.onResult?.(answer.kind);
    if (answer.kind === 'error') return r.keepLastGood(sink, answer.message, { host });
    r.backoff.reset();
    if (answer.kind === 'nxdomain') {
      sink.lastError = `${host}: no such name (NXDOMAIN or no A/AAAA records)`;
      sink.update('neg');
      return r.refreshMs;
    }
    sink.lastError = undefined;
    const addrs: Address[] = [...new Set(answer.records)].sort().map((ip) => ({ host: ip, port, weight: 1, meta: {} }));
    sink.update('bound', addrs);
    return Math.min(r.refreshMs, Math.max(MIN_REFRESH_MS, answer.ttlSeconds * 1000));
  });
}

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
      resolveInto(sink, this.resolver, host, port, this.options),
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

/**
 * A re-resolving host lookup for `/$/inet/<host>/<port>` (the dtab engine's `globalNamer({ resolveHost })`):
 * IP literals are constant; host names are resolved like `io.l5d.dns` and refreshed while observed.
 */
export function createHostResolver(options: DnsRefreshOptions = {}): (host: string, port: number) => Var<Addr> {
  const resolver = new DnsResolver(options);
  const names = new DnsNames(options.idleTtlMs, options.maxNames, options.onFull);
  return (host, port) => {
    if (isIP(host)) {
      return new VarClass<Addr>({ type: 'bound', addrs: [{ host, port, weight: 1, meta: {} }], meta: {} });
    }
    const name = names.get(`${host.toLowerCase()}/${port}`, Path.of('$', 'inet', host, String(port)), (sink) =>
      resolveInto(sink, resolver, host, port, options),
    );
    return name.addr;
  };
}

let defaultResolveHost: ((host: string, port: number) => Var<Addr>) | undefined;

/** `createHostResolver()` with the system's resolver and a 5 s refresh, shared process-wide. */
export function resolveHost(host: string, port: number): Var<Addr> {
  defaultResolveHost ??= createHostResolver();
  return defaultResolveHost(host, port);
}
