import { DnsSrvNamer } from '../dnssrv.js';
import type { NamerKind } from '../kind.js';
import { DNS_DEFAULTS, DNS_KEYS, dnsOptions, readDns, type DnsNamerConfig } from './dns.js';

/** `io.l5d.dnssrv`: `/<SRV record name>` → its targets and ports. */
export const dnsSrvNamer: NamerKind<DnsNamerConfig> = {
  kind: 'io.l5d.dnssrv',
  keys: DNS_KEYS,
  defaults: DNS_DEFAULTS,
  read: readDns,
  create: (config, ctx) => new DnsSrvNamer(ctx.prefix, dnsOptions(config, ctx)),
};
