import { DnsSrvNamer } from '../dnssrv.js';
import { dnsKind } from './dns.js';

/** `io.l5d.dnssrv`: `/<SRV record name>` → its targets and ports; the keys of io.l5d.dns. */
export const dnsSrvNamer = dnsKind('io.l5d.dnssrv', DnsSrvNamer);
