import type { Activity } from '../util/activity.js';
import { constant, ok } from '../util/activity.js';
import type { Logger } from '../util/log.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { Addr, Address, Name } from '../dtab/name.js';
import type { NameTree } from '../dtab/nametree.js';
import { Neg } from '../dtab/nametree.js';
import { Path } from '../dtab/path.js';
import type { Var } from '../util/var.js';
import { Var as VarClass } from '../util/var.js';
import type { Namer, NamerReadiness } from './namer.js';
import { Backoff } from './backoff.js';
import { DnsResolver } from './dns-resolver.js';
import type { DnsResolverOptions } from './dns-resolver.js';
import { LiveName, namesReadiness } from './live-name.js';
import { isIP } from 'node:net';

export interface DnsRefreshOptions extends DnsResolverOptions {
  /** Upper bound on re-resolution (records' TTLs are honoured below it). Default 5. */
  refreshIntervalSeconds?: number;
  log?: Logger;
  /** Keep resolving this long after the last user leaves, so re-binding finds an answer. Default 30 s. */
  idleTtlMs?: number;
  /** Called after each resolution with its outcome (metrics). */
  onResult?: (kind: 'ok' | 'nxdomain' | 'error') => void;
}

/** Shortest re-resolution, whatever the TTL says (a TTL of 0 must not become a query storm). */
const MIN_REFRESH_MS = 500;

/**
 * Keep `sink` answering for `host:port`: resolve, then re-resolve when the shortest TTL runs out,
 * capped at the refresh interval. NXDOMAIN (or no A/AAAA at all) → Neg; resolver errors keep the last
 * good answer and retry with backoff.
 */
export function resolveInto(sink: LiveName, resolver: DnsResolver, host: string, port: number, options: DnsRefreshOptions): () => void {
  const refreshMs = Math.max(MIN_REFRESH_MS, (options.refreshIntervalSeconds ?? 5) * 1000);
  const backoff = new Backoff(100, refreshMs);
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const run = async () => {
    const answer = await resolver.addresses(host, refreshMs / 1000);
    if (stopped) return;
    options.onResult?.(answer.kind);
    let next = refreshMs;
    if (answer.kind === 'ok') {
      backoff.reset();
      sink.lastError = undefined;
      const addrs: Address[] = [...new Set(answer.records)].sort().map((ip) => ({ host: ip, port, weight: 1, meta: {} }));
      sink.update('bound', addrs);
      next = Math.min(refreshMs, Math.max(MIN_REFRESH_MS, answer.ttlSeconds * 1000));
    } else if (answer.kind === 'nxdomain') {
      backoff.reset();
      sink.lastError = `${host}: no such name (NXDOMAIN or no A/AAAA records)`;
      sink.update('neg');
    } else {
      sink.lastError = answer.message;
      options.log?.warn('DNS resolution failed; keeping the last answer', { host, error: answer.message });
      next = backoff.next();
    }
    if (Number.isFinite(next)) {
      timer = setTimeout(run, next);
      timer.unref();
    }
  };
  void run();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}

/**
 * `io.l5d.dns`: `/<host>/<port>[/residual]` → the host's A and AAAA records on that port.
 */
export class DnsNamer implements Namer {
  private readonly names = new Map<string, LiveName>();
  private readonly resolver: DnsResolver;

  constructor(
    private readonly prefix: Path,
    private readonly options: DnsRefreshOptions = {},
  ) {
    this.resolver = new DnsResolver(options);
  }

  lookup(path: Path): Activity<NameTree<Name>> {
    if (path.size < 2) return constant<NameTree<Name>>(ok(Neg));
    const host = path.segments[0]!.toLowerCase();
    const portText = path.segments[1]!;
    const port = Number(portText);
    if (!/^\d+$/.test(portText) || port < 1 || port > 65535 || !/^[a-z0-9_.:%-]+$/.test(host)) return constant<NameTree<Name>>(ok(Neg));
    const key = `${host}/${port}`;
    let name = this.names.get(key);
    if (!name) {
      const created: LiveName = new LiveName(
        this.prefix.concat(Path.of(host, String(port))),
        (sink) => resolveInto(sink, this.resolver, host, port, this.options),
        this.options.idleTtlMs ?? 30_000,
        () => {
          if (this.names.get(key) === created) this.names.delete(key);
        },
      );
      this.names.set(key, (name = created));
    }
    return name.lookup(path.drop(2));
  }

  ready(): NamerReadiness {
    return namesReadiness(this.prefix.show(), this.names);
  }

  state(): unknown {
    const out: Record<string, unknown> = {};
    for (const [key, name] of this.names) out[key] = { state: name.state, addr: name.addr.sample, lastError: name.lastError };
    return out;
  }

  close(): void {
    for (const name of this.names.values()) name.close();
    this.names.clear();
    this.resolver.cancel();
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
  const names = new Map<string, LiveName>();
  return (host, port) => {
    if (isIP(host)) {
      return new VarClass<Addr>({ type: 'bound', addrs: [{ host, port, weight: 1, meta: {} }], meta: {} });
    }
    const key = `${host.toLowerCase()}/${port}`;
    let name = names.get(key);
    if (!name) {
      const created: LiveName = new LiveName(
        Path.of('$', 'inet', host, String(port)),
        (sink) => resolveInto(sink, resolver, host, port, options),
        options.idleTtlMs ?? 30_000,
        () => {
          if (names.get(key) === created) names.delete(key);
        },
      );
      names.set(key, (name = created));
    }
    return name.addr;
  };
}

let defaultResolveHost: ((host: string, port: number) => Var<Addr>) | undefined;

/** `createHostResolver()` with the system's resolver and a 5 s refresh, shared process-wide. */
export function resolveHost(host: string, port: number): Var<Addr> {
  defaultResolveHost ??= createHostResolver();
  return defaultResolveHost(host, port);
}
