import { constant, failed, ok, type Activity, type ActivityState } from '../util/activity.js';
import { Var } from '../util/var.js';
import type { Addr, BoundName, Name } from '../dtab/name.js';
import { Empty, Fail, Neg, type NameTree } from '../dtab/nametree.js';
import { Path } from '../dtab/path.js';
import type { Namer } from './namer.js';
import { Memo } from '../util/memo.js';
import { HostNames, sharedHostNames, type AddressLookup } from './host-names.js';
import type { DnsAnswer } from './dns-resolver.js';

export { ipLiteral } from './ip-literal.js';

export interface GlobalNamerOptions {
  /**
   * Where `/$/inet` and `/$/fixedinet` host names are resolved. Default: the process's shared host
   * names (the system resolver), the same table routing uses.
   */
  hosts?: HostNames;
  /** A custom address set for `/$/inet/<host>/<port>` (tests, embedding); `/$/fixedinet` still uses `hosts`. */
  resolveHost?: (host: string, port: number) => Var<Addr>;
}

/**
 * Finagle's `Namer.global` plus Linkerd's `/$/` helper namers. It answers for whole paths starting
 * with `/$/` (anything else is Neg):
 * - `/$/inet/<host>/<port>[/residual]`, `/$/inet/<port>` (localhost): a bound name, id
 *   `/$/inet/<host>/<port>`; `/$/fixedinet/…` the same, always resolved once.
 * - `/$/nil[/…]` Empty, `/$/fail[/…]` Fail.
 * - `/$/io.buoyant.rinet/<port>/<host>[/residual]`: the address of `/$/inet/<host>/<port>`, id
 *   `/$/io.buoyant.rinet/<port>/<host>`.
 * - `/$/io.buoyant.http.domainToPathPfx/<pfx>/<a.b.c>/…` → `/<pfx>/c/b/a/…`, `…domainToPath`,
 *   `…subdomainOfPfx/<domain>/<pfx>/<host>/…` → `/<pfx>/<host minus .domain>/…`, `…subdomainOf`,
 *   `…anyMethod`, `…anyMethodPfx`, `…anyHost`, `…anyHostPfx`, `/$/io.buoyant.hostportPfx/<pfx>/<host:port>/…`
 *   → `/<pfx>/<host>/<port>/…`, `/$/io.buoyant.porthostPfx/…` → `/<pfx>/<port>/<host>/…`; a name
 *   they do not fit is Neg, one they would rewrite to an empty segment (`a..b`) a failed lookup.
 * - anything else under `/$/`: a failed lookup naming it.
 */
export function globalNamer(options: GlobalNamerOptions = {}): Namer {
  return new GlobalNamer(options.hosts ?? sharedHostNames(), options.resolveHost);
}

const DOLLAR = '$';
/** Answers kept: every one is a constant, so a dropped one is simply made again. */
const MAX_CACHED = 1000;

class GlobalNamer implements Namer {
  private readonly answers = new Memo<Activity<NameTree<Name>>>(MAX_CACHED);
  /** A custom resolver's Var per host:port, so names that differ only in their residual share it (the host table shares its own). */
  private readonly custom = new Memo<Var<Addr>>(MAX_CACHED);

  constructor(
    private readonly hosts: HostNames,
    private readonly resolveHost: ((host: string, port: number) => Var<Addr>) | undefined,
  ) {}

  state(): unknown {
    return this.hosts.state();
  }

  lookup(path: Path): Activity<NameTree<Name>> {
    const key = path.show();
    return this.answers.get(key) ?? this.answers.set(key, this.answer(path));
  }

  private answer(path: Path): Activity<NameTree<Name>> {
    const s = path.segments;
    if (s.length < 2 || s[0] !== DOLLAR) return answerOf(ok(Neg));
    const kind = s[1]!;
    const rest = path.drop(2);
    switch (kind) {
      case 'inet':
      case 'fixedinet':
        return this.inet(path, kind);
      case 'fail':
        return answerOf(ok(Fail));
      case 'nil':
        return answerOf(ok(Empty));
      case 'io.buoyant.rinet': {
        if (rest.size < 2) return answerOf(ok(Neg));
        const [portText, host] = rest.segments as [string, string];
        const port = parseJavaInt(portText);
        if (port === undefined) return answerOf(failed(new Error(`Invalid port '${portText}' in ${path.show()}`)));
        // Linkerd's rinet: id `/$/io.buoyant.rinet/<port>/<host>`, the rest of the path the residual.
        return answerOf(ok(this.bound('inet', host, port, path.drop(4), path.take(4))));
      }
    }
    const rewrite = REWRITERS[kind];
    if (rewrite !== undefined) {
      let rewritten: Path | undefined;
      try {
        rewritten = rest.isEmpty ? undefined : rewrite(rest);
      } catch (e) {
        if (!(e instanceof EmptySegment)) throw e;
        return answerOf(failed(new Error(`Invalid name ${path.show()}: the rewrite would make an empty path segment`)));
      }
      return answerOf(ok(rewritten === undefined ? Neg : { kind: 'leaf', value: { kind: 'path', path: rewritten } }));
    }
    // Linkerd's UnknownNamer (Finagle could not load a Namer class of that name).
    return answerOf(failed(new Error(`Unknown namer: ${kind} for path: ${path.show()}`)));
  }

  /** Finagle's InetPath: `/$/inet/<host>/<port>/…` first, then `/$/inet/<port>/…` (localhost). */
  private inet(path: Path, scheme: 'inet' | 'fixedinet'): Activity<NameTree<Name>> {
    const s = path.segments;
    const withHost = s.length >= 4 ? parseJavaInt(s[3]!) : undefined;
    if (withHost !== undefined) return answerOf(ok(this.bound(scheme, s[2]!, withHost, path.drop(4), path.take(4))));
    const localPort = s.length >= 3 ? parseJavaInt(s[2]!) : undefined;
    if (localPort !== undefined) return answerOf(ok(this.bound(scheme, '', localPort, path.drop(3), path.take(3))));
    return answerOf(
      failed(new Error(`Invalid ${scheme} path ${path.show()}: expected /$/${scheme}/<host>/<port> or /$/${scheme}/<port>`)),
    );
  }

  private bound(scheme: 'inet' | 'fixedinet', host: string, port: number, residual: Path, id?: Path): NameTree<Name> {
    const name: BoundName = {
      kind: 'bound',
      id: id ?? Path.of(DOLLAR, scheme, host, String(port)),
      addr: this.addrOf(scheme, host === '' ? '127.0.0.1' : host, port),
      residual,
    };
    return { kind: 'leaf', value: name };
  }

  private addrOf(scheme: 'inet' | 'fixedinet', host: string, port: number): Var<Addr> {
    if (port < 0 || port > 65535) return Var.value<Addr>({ type: 'failed', cause: `port out of range:${port}` });
    if (scheme === 'fixedinet') return this.hosts.fixedinet(host, port);
    const custom = this.resolveHost;
    if (custom === undefined) return this.hosts.inet(host, port);
    const key = `${host} ${port}`;
    return this.custom.get(key) ?? this.custom.set(key, custom(host, port));
  }
}

function answerOf(state: ActivityState<NameTree<Name>>): Activity<NameTree<Name>> {
  return constant<NameTree<Name>>(state);
}

/** Java's `Integer.parseInt`: an optional sign and decimal digits, within 32 bits. */
function parseJavaInt(text: string): number | undefined {
  if (!/^[+-]?\d+$/.test(text)) return undefined;
  const n = Number(text);
  return n >= -2147483648 && n <= 2147483647 ? n : undefined;
}

/** Looks a host name up: all its IP addresses, or an error (`code` ENOTFOUND/ENODATA: no such host). */
export type HostLookup = (host: string, done: (err: NodeJS.ErrnoException | null, ips: readonly string[]) => void) => void;

export interface ResolverOptions {
  /** Default: the shared host names' resolver. */
  lookup?: HostLookup;
  /** Re-resolution period while observed (Finagle's InetResolver: 5 s). */
  intervalMs?: number;
}

/**
 * Finagle's InetResolver (`/$/inet`) over its own host names table: literals and `localhost` are
 * constants; a host name is looked up when first observed and every `intervalMs` while observed,
 * and lookups stop when the last observer leaves.
 */
export function pollingResolver(options: ResolverOptions = {}): (host: string, port: number) => Var<Addr> {
  // Finagle's InetResolver stops when unobserved: no idle TTL.
  const hosts = resolverHosts(options, 0);
  return (host, port) => hosts.inet(host, port);
}

/** Finagle's FixedInetResolver (`/$/fixedinet`): looked up until it has an answer, which is kept while the name is in use. */
export function onceResolver(options: Pick<ResolverOptions, 'lookup'> = {}): (host: string, port: number) => Var<Addr> {
  const hosts = resolverHosts(options, undefined);
  return (host, port) => hosts.fixedinet(host, port);
}

/** The `/$/inet` default: the shared host names. */
export const resolvePolling = (host: string, port: number): Var<Addr> => sharedHostNames().inet(host, port);

/** The `/$/fixedinet` default: the shared host names. */
export const resolveOnce = (host: string, port: number): Var<Addr> => sharedHostNames().fixedinet(host, port);

function resolverHosts(options: ResolverOptions, idleTtlMs: number | undefined): HostNames {
  if (options.lookup === undefined && options.intervalMs === undefined) return sharedHostNames();
  return new HostNames({ lookup: options.lookup && fromHostLookup(options.lookup), refreshMs: options.intervalMs ?? 5000, idleTtlMs });
}

/** A callback-style lookup (dns.lookup's shape) as the host table's lookup. */
function fromHostLookup(lookup: HostLookup): AddressLookup {
  return (host, ttlSeconds) =>
    new Promise<DnsAnswer<string>>((resolve) =>
      lookup(host, (err, ips) => {
        if (!err) resolve({ kind: 'ok', records: [...ips], ttlSeconds });
        else if (err.code === 'ENOTFOUND' || err.code === 'ENODATA') resolve({ kind: 'nxdomain' });
        else resolve({ kind: 'error', message: err.message });
      }),
    );
}

// Linkerd's rewriting helper namers (io.buoyant.http.*, io.buoyant.hostportPfx/porthostPfx).
const HOST = /^[A-Za-z0-9.:_-]+$/;
const METHOD = /^[A-Z]+$/;
const DNS_LABEL = /^[a-z0-9][-a-z0-9]*[a-z0-9]?$/;

type Rewrite = (path: Path) => Path | undefined;

/** Java's `String.split`: trailing empty strings are dropped. */
function javaSplit(s: string, sep: string): string[] {
  const parts = s.split(sep);
  while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  return parts;
}

/** Linkerd builds the rewritten name with `Path.Utf8`, whose `require(nonempty)` throws: a failed lookup. */
class EmptySegment extends Error {}

function pathOf(segments: string[], rest: Path): Path {
  if (segments.some((x) => x.length === 0)) throw new EmptySegment();
  return new Path(segments).concat(rest);
}

function subdomain(domain: string, hostname: string): string | undefined {
  const sfx = `.${domain}`;
  const idx = hostname.indexOf(':');
  const host = idx > 0 ? hostname.slice(0, idx) : hostname;
  if (!host.endsWith(sfx)) return undefined;
  const sub = host.slice(0, host.length - sfx.length);
  return sub.length > 0 ? sub : undefined;
}

function hostColonPort(s: string): [string, string] | undefined {
  const parts = javaSplit(s, ':');
  if (parts.length !== 2) return undefined;
  const [host, port] = parts as [string, string];
  return DNS_LABEL.test(port) && port.length <= 63 ? [host, port] : undefined;
}

const REWRITERS: Record<string, Rewrite> = {
  'io.buoyant.http.anyMethod': (p) => (METHOD.test(p.segments[0]!) ? p.drop(1) : undefined),
  'io.buoyant.http.anyMethodPfx': (p) =>
    p.size >= 2 && METHOD.test(p.segments[1]!) ? pathOf([p.segments[0]!], p.drop(2)) : undefined,
  'io.buoyant.http.anyHost': (p) => (HOST.test(p.segments[0]!) ? p.drop(1) : undefined),
  'io.buoyant.http.anyHostPfx': (p) =>
    p.size >= 2 && HOST.test(p.segments[1]!) ? pathOf([p.segments[0]!], p.drop(2)) : undefined,
  'io.buoyant.http.subdomainOf': (p) => {
    if (p.size < 2) return undefined;
    const [domain, host] = p.segments as [string, string];
    if (!HOST.test(domain) || !HOST.test(host)) return undefined;
    const sub = subdomain(domain, host);
    return sub === undefined ? undefined : pathOf([sub], p.drop(2));
  },
  'io.buoyant.http.subdomainOfPfx': (p) => {
    if (p.size < 3) return undefined;
    const [domain, pfx, host] = p.segments as [string, string, string];
    if (!HOST.test(domain) || !HOST.test(host)) return undefined;
    const sub = subdomain(domain, host);
    return sub === undefined ? undefined : pathOf([pfx, sub], p.drop(3));
  },
  'io.buoyant.http.domainToPath': (p) =>
    HOST.test(p.segments[0]!) ? pathOf(javaSplit(p.segments[0]!, '.').reverse(), p.drop(1)) : undefined,
  'io.buoyant.http.domainToPathPfx': (p) =>
    p.size >= 2 && HOST.test(p.segments[1]!)
      ? pathOf([p.segments[0]!, ...javaSplit(p.segments[1]!, '.').reverse()], p.drop(2))
      : undefined,
  'io.buoyant.hostportPfx': (p) => {
    const hp = p.size >= 2 ? hostColonPort(p.segments[1]!) : undefined;
    return hp === undefined ? undefined : pathOf([p.segments[0]!, hp[0], hp[1]], p.drop(2));
  },
  'io.buoyant.porthostPfx': (p) => {
    const hp = p.size >= 2 ? hostColonPort(p.segments[1]!) : undefined;
    return hp === undefined ? undefined : pathOf([p.segments[0]!, hp[1], hp[0]], p.drop(2));
  },
};
