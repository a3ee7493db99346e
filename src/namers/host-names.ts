import type { Addr, Address } from '../dtab/name.js';
import { Path } from '../dtab/path.js';
import { Var } from '../util/var.js';
import type { LiveName } from './live-name.js';
import type { NameTable } from './name-table.js';
import { DnsResolver, type DnsAnswer } from './dns-resolver.js';
import { MIN_REFRESH_MS, dnsNameTable, refreshLoop, type DnsRefreshOptions } from './dns-refresh.js';
import { ipLiteral } from './ip-literal.js';

/** Looks a host up: its addresses and how long they may be kept, no such host, or an error. */
export type AddressLookup = (host: string, fallbackTtlSeconds: number) => Promise<DnsAnswer<string>>;

export interface HostNamesOptions extends DnsRefreshOptions {
  /** Default: a DnsResolver on `dnsHosts` (or the system's servers, then getaddrinfo). */
  lookup?: AddressLookup;
  /** The re-resolution cap in milliseconds, when `refreshIntervalSeconds` is too coarse (tests, Finagle's 5 s). */
  refreshMs?: number;
}

/**
 * The host names of `/$/inet` and `/$/fixedinet` (and `io.buoyant.rinet`), in one DNS names table,
 * so that routing, `dtab delegate`, the playground and library users give the same answer for the
 * same host: an IP literal (Java's short IPv4 forms too), `localhost` or the empty host is a
 * constant loopback or literal address, with no lookup (as Finagle's resolvers); a host name is a
 * discovered name. `inet` re-resolves while observed (records' TTLs honoured below the refresh
 * cap); `fixedinet` resolves until it has an answer and keeps it while the name lives. No such host
 * is Neg; an error before the first answer is a failed address set, after it the last answer stays.
 */
export class HostNames {
  private readonly names: NameTable;
  private readonly lookup: AddressLookup;
  private readonly resolver: DnsResolver | undefined;

  constructor(private readonly options: HostNamesOptions = {}) {
    this.names = dnsNameTable(options);
    if (options.lookup !== undefined) {
      this.lookup = options.lookup;
    } else {
      const resolver = (this.resolver = new DnsResolver(options));
      this.lookup = (host, ttl) => resolver.addresses(host, ttl);
    }
  }

  inet(host: string, port: number): Var<Addr> {
    return this.addr('inet', host, port);
  }

  fixedinet(host: string, port: number): Var<Addr> {
    return this.addr('fixedinet', host, port);
  }

  state(): Record<string, unknown> {
    return this.names.state();
  }

  close(): void {
    this.names.close();
    this.resolver?.cancel();
  }

  private addr(scheme: 'inet' | 'fixedinet', host: string, port: number): Var<Addr> {
    const name = host.toLowerCase();
    const literal = name === '' || name === 'localhost' ? '127.0.0.1' : ipLiteral(name);
    if (literal !== undefined) return Var.value<Addr>({ type: 'bound', addrs: [{ host: literal, port, weight: 1, meta: {} }], meta: {} });
    const id = Path.of('$', scheme, name, String(port));
    return this.names.get(`${scheme} ${name}/${port}`, id, (sink) => resolveInto(sink, this.lookup, name, port, { ...this.options, once: scheme === 'fixedinet' })).addr;
  }
}

/**
 * Keep `sink` answering for `host:port`: resolve, then re-resolve when the shortest TTL runs out,
 * capped at the refresh interval (with `once`, stop at the first answer). No such host → Neg; an
 * error keeps the last answer (or fails the address set when there is none yet) and retries with
 * backoff.
 */
export function resolveInto(
  sink: LiveName,
  lookup: AddressLookup,
  host: string,
  port: number,
  options: HostNamesOptions & { once?: boolean },
): () => void {
  let answered = false;
  return refreshLoop(options, async (r) => {
    const answer = await lookup(host, r.refreshMs / 1000);
    if (r.stopped()) return undefined;
    options.onResult?.(answer.kind);
    if (answer.kind === 'error') {
      if (answered) return r.keepLastGood(sink, answer.message, { host });
      sink.fail(answer.message);
      return r.backoff.next();
    }
    answered = true;
    r.backoff.reset();
    if (answer.kind === 'nxdomain') {
      sink.lastError = `${host}: no such name (NXDOMAIN or no A/AAAA records)`;
      sink.update('neg');
      return options.once ? undefined : r.refreshMs;
    }
    sink.lastError = undefined;
    const addrs: Address[] = [...new Set(answer.records)].sort().map((ip) => ({ host: ip, port, weight: 1, meta: {} }));
    sink.update('bound', addrs);
    return options.once ? undefined : Math.min(r.refreshMs, Math.max(MIN_REFRESH_MS, answer.ttlSeconds * 1000));
  });
}

let shared: HostNames | undefined;

/** The process's host names with the system resolver (5 s refresh, 30 s idle TTL, 1000 names). */
export function sharedHostNames(): HostNames {
  return (shared ??= new HostNames());
}
