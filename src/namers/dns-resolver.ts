import { Resolver, lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

/** One DNS answer for a name: its records and how long they may be cached, or "no such name". */
export type DnsAnswer<T> =
  | { kind: 'ok'; records: T[]; ttlSeconds: number }
  | { kind: 'nxdomain' }
  | { kind: 'error'; message: string };

export interface DnsResolverOptions {
  /** `host` or `host:port` (or `[v6]:port`) servers; default the system's (`/etc/resolv.conf`). */
  dnsHosts?: string[];
  /** Per-query timeout and tries (node:dns defaults are 5 s × 4). */
  timeoutMs?: number;
  tries?: number;
}

const NO_SUCH = new Set(['ENOTFOUND', 'ENODATA', 'NXDOMAIN', 'ENONAME']);

/**
 * A/AAAA and SRV lookups with TTLs through node:dns's Resolver (c-ares), against custom servers when
 * configured. With the system's servers, a name DNS does not know is also tried through getaddrinfo
 * (`/etc/hosts`, resolv.conf search domains — how `localhost` or a short Kubernetes service name
 * resolves); such answers carry no TTL, so they are refreshed at the namer's interval.
 */
export class DnsResolver {
  private readonly resolver: Resolver;
  private readonly custom: boolean;

  constructor(options: DnsResolverOptions = {}) {
    this.resolver = new Resolver({ timeout: options.timeoutMs ?? 2000, tries: options.tries ?? 2 });
    this.custom = !!options.dnsHosts && options.dnsHosts.length > 0;
    if (this.custom) this.resolver.setServers(options.dnsHosts!.map(normaliseServer));
  }

  cancel(): void {
    this.resolver.cancel();
  }

  async addresses(host: string, fallbackTtlSeconds: number): Promise<DnsAnswer<string>> {
    if (isIP(host)) return { kind: 'ok', records: [host], ttlSeconds: Number.POSITIVE_INFINITY };
    if (!this.custom && (host === 'localhost' || host.endsWith('.localhost'))) return this.getaddrinfo(host, fallbackTtlSeconds, undefined);
    const [v4, v6] = await Promise.allSettled([
      this.resolver.resolve4(host, { ttl: true }),
      this.resolver.resolve6(host, { ttl: true }),
    ]);
    const records: string[] = [];
    let ttl = Number.POSITIVE_INFINITY;
    for (const r of [v4, v6]) {
      if (r.status !== 'fulfilled') continue;
      for (const rec of r.value) {
        records.push(rec.address);
        ttl = Math.min(ttl, rec.ttl);
      }
    }
    if (records.length > 0) return { kind: 'ok', records, ttlSeconds: ttl };
    const codes = [v4, v6].map((r) => (r.status === 'rejected' ? String((r.reason as { code?: string }).code) : 'ENODATA'));
    const answer: DnsAnswer<string> = codes.every((c) => NO_SUCH.has(c))
      ? { kind: 'nxdomain' }
      : {
          kind: 'error',
          message: `resolving ${host}: ${(((v4.status === 'rejected' ? v4 : v6) as PromiseRejectedResult).reason as Error).message}`,
        };
    return this.custom ? answer : this.getaddrinfo(host, fallbackTtlSeconds, answer);
  }

  /** The system's own lookup; `dnsAnswer` is what DNS said, used when getaddrinfo knows no more. */
  private async getaddrinfo(host: string, ttlSeconds: number, dnsAnswer: DnsAnswer<string> | undefined): Promise<DnsAnswer<string>> {
    try {
      const found = await lookup(host, { all: true, verbatim: true });
      if (found.length > 0) return { kind: 'ok', records: found.map((f) => f.address), ttlSeconds };
      return dnsAnswer ?? { kind: 'nxdomain' };
    } catch (error) {
      const code = String((error as { code?: string }).code);
      if (dnsAnswer) return dnsAnswer;
      if (NO_SUCH.has(code) || code === 'EAI_NONAME' || code === 'EAI_NODATA') return { kind: 'nxdomain' };
      return { kind: 'error', message: `resolving ${host}: ${(error as Error).message}` };
    }
  }

  async srv(name: string): Promise<DnsAnswer<{ name: string; port: number; priority: number; weight: number }>> {
    try {
      const records = await this.resolver.resolveSrv(name);
      if (records.length === 0) return { kind: 'nxdomain' };
      // node:dns does not report SRV TTLs; the caller refreshes at its interval.
      return { kind: 'ok', records, ttlSeconds: Number.POSITIVE_INFINITY };
    } catch (error) {
      const code = String((error as { code?: string }).code);
      if (NO_SUCH.has(code)) return { kind: 'nxdomain' };
      return { kind: 'error', message: `resolving SRV ${name}: ${(error as Error).message}` };
    }
  }
}

function normaliseServer(server: string): string {
  const s = server.trim();
  if (!s) throw new Error('dnsHosts: empty server');
  if (isIP(s) === 6) return `[${s}]:53`;
  if (isIP(s) === 4 || s.startsWith('[') || /:\d+$/.test(s)) return s;
  throw new Error(`dnsHosts: "${server}" is not an IP address (optionally with :port)`);
}
