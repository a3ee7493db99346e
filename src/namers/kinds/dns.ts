import type { OwnConfig } from '../../config/kind.js';
import type { NamerConfig } from '../../config/types.js';
import type { Fields } from '../../config/yaml-reader.js';
import type { Path } from '../../dtab/path.js';
import type { DnsNamerBase } from '../dns-refresh.js';
import { DnsNamer, dnsMetricHooks, type DnsRefreshOptions } from '../dns.js';
import { namerKey, type NamerContext, type NamerKind } from '../kind.js';
import { DNS_NAME_RATE } from '../creation-rate.js';

/** `io.l5d.dns` and `io.l5d.dnssrv` take the same keys. */
export interface DnsNamerConfig extends NamerConfig {
  /** Upper bound on re-resolution, seconds (records' TTL is honoured below it). */
  refreshIntervalSeconds: number;
  /** `host` or `host:port` resolvers; default the system's. */
  dnsHosts?: string[];
  /** Most names resolved at once; idle ones are dropped first, then new names fail. */
  maxNames: number;
  /** New names a second (0: no limit), after `namesBurst` at once; names over it wait pending. */
  namesPerSecond: number;
  namesBurst: number;
}

const DNS_DEFAULTS = { refreshIntervalSeconds: 5, maxNames: 1000, namesPerSecond: DNS_NAME_RATE.perSecond, namesBurst: DNS_NAME_RATE.burst } as const;
const DNS_KEYS = ['refreshIntervalSeconds', 'dnsHosts', 'maxNames', 'namesPerSecond', 'namesBurst'] as const;

function readDns(f: Fields): OwnConfig<DnsNamerConfig, 'kind' | 'prefix'> {
  const out: OwnConfig<DnsNamerConfig, 'kind' | 'prefix'> = {
    refreshIntervalSeconds: f.get('refreshIntervalSeconds').int(1, 86400) ?? DNS_DEFAULTS.refreshIntervalSeconds,
    maxNames: f.get('maxNames').int(1, 1_000_000) ?? DNS_DEFAULTS.maxNames,
    namesPerSecond: f.get('namesPerSecond').int(0, 1_000_000) ?? DNS_DEFAULTS.namesPerSecond,
    namesBurst: f.get('namesBurst').int(1, 1_000_000) ?? DNS_DEFAULTS.namesBurst,
  };
  const hosts = f.get('dnsHosts').list();
  if (hosts) out.dnsHosts = hosts.map((h) => h.required('a resolver address')?.string('a resolver address ("host" or "host:port")') ?? '');
  return out;
}

/** A DNS namer's refresh options, with its results and a full table counted in metrics. */
function dnsOptions(config: DnsNamerConfig, { prefix, metrics, log, key }: NamerContext): DnsRefreshOptions {
  const full = metrics.limitsReached.labels({ namer: prefix.show(), limit: namerKey(key, 'maxNames') });
  const limited = metrics.limitsReached.labels({ namer: prefix.show(), limit: namerKey(key, 'namesPerSecond') });
  const { refreshIntervalSeconds, dnsHosts, maxNames, namesPerSecond, namesBurst } = config;
  return {
    refreshIntervalSeconds,
    dnsHosts,
    maxNames,
    rate: { perSecond: namesPerSecond, burst: namesBurst },
    log,
    onResult: dnsMetricHooks(metrics, prefix.show()),
    onFull: () => full.inc(),
    onRate: () => limited.inc(),
    configKey: key,
  };
}

/** A DNS namer kind: `io.l5d.dns` and `io.l5d.dnssrv` share their keys, defaults and options, not their lookups. */
export function dnsKind(kind: string, Namer: new (prefix: Path, options: DnsRefreshOptions) => DnsNamerBase): NamerKind<DnsNamerConfig> {
  return { kind, keys: DNS_KEYS, defaults: DNS_DEFAULTS, read: readDns, create: (config, ctx) => new Namer(ctx.prefix, dnsOptions(config, ctx)) };
}

/** `io.l5d.dns`: `/<host>/<port>` → the host's A and AAAA records. */
export const dnsNamer = dnsKind('io.l5d.dns', DnsNamer);
