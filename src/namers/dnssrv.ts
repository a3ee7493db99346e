import type { Activity } from '../util/activity.js';
import { constant, ok } from '../util/activity.js';
import type { Address, Name } from '../dtab/name.js';
import type { NameTree } from '../dtab/nametree.js';
import { Neg } from '../dtab/nametree.js';
import { Path } from '../dtab/path.js';
import type { Namer, NamerReadiness } from './namer.js';
import { Backoff } from './backoff.js';
import { DnsResolver } from './dns-resolver.js';
import type { DnsRefreshOptions } from './dns.js';
import { LiveName, namesReadiness } from './live-name.js';

const MIN_REFRESH_MS = 500;

/**
 * `io.l5d.dnssrv`: `/<srv-name>[/residual]` → the SRV records' targets (resolved to addresses) and
 * ports, from the lowest-priority group, weighted by the records' weights. No records or NXDOMAIN →
 * Neg (so dtab fallbacks apply); resolver errors keep the last good answer.
 */
export class DnsSrvNamer implements Namer {
  private readonly names = new Map<string, LiveName>();
  private readonly resolver: DnsResolver;

  constructor(
    private readonly prefix: Path,
    private readonly options: DnsRefreshOptions = {},
  ) {
    this.resolver = new DnsResolver(options);
  }

  lookup(path: Path): Activity<NameTree<Name>> {
    if (path.size < 1) return constant<NameTree<Name>>(ok(Neg));
    const srvName = path.segments[0]!.toLowerCase();
    if (!/^[a-z0-9_.-]+$/.test(srvName)) return constant<NameTree<Name>>(ok(Neg));
    let name = this.names.get(srvName);
    if (!name) {
      const created: LiveName = new LiveName(
        this.prefix.concat(Path.of(srvName)),
        (sink) => this.poll(sink, srvName),
        this.options.idleTtlMs ?? 30_000,
        () => {
          if (this.names.get(srvName) === created) this.names.delete(srvName);
        },
      );
      this.names.set(srvName, (name = created));
    }
    return name.lookup(path.drop(1));
  }

  private poll(sink: LiveName, srvName: string): () => void {
    const refreshMs = Math.max(MIN_REFRESH_MS, (this.options.refreshIntervalSeconds ?? 5) * 1000);
    const backoff = new Backoff(100, refreshMs);
    let timer: NodeJS.Timeout | undefined;
    let stopped = false;
    const run = async () => {
      const answer = await this.resolver.srv(srvName);
      let next = refreshMs;
      if (stopped) return;
      this.options.onResult?.(answer.kind);
      if (answer.kind === 'ok') {
        const best = Math.min(...answer.records.map((r) => r.priority));
        const group = answer.records.filter((r) => r.priority === best);
        const addrs: Address[] = [];
        let failed = 0;
        for (const r of group) {
          const target = r.name.replace(/\.$/, '');
          const found = await this.resolver.addresses(target, refreshMs / 1000);
          if (stopped) return;
          if (found.kind !== 'ok') {
            if (found.kind === 'error') failed++;
            continue;
          }
          next = Math.min(next, Math.max(MIN_REFRESH_MS, found.ttlSeconds * 1000));
          // Weight 0 means "very rarely" (RFC 2782), not never.
          for (const ip of found.records) addrs.push({ host: ip, port: r.port, weight: r.weight > 0 ? r.weight : 0.01, meta: { target } });
        }
        if (failed > 0 && addrs.length === 0 && sink.state === 'bound') {
          sink.lastError = `${srvName}: no SRV target resolved`;
          next = backoff.next();
        } else {
          backoff.reset();
          sink.lastError = undefined;
          addrs.sort((a, b) => (a.host + ':' + a.port < b.host + ':' + b.port ? -1 : 1));
          sink.update('bound', addrs);
        }
      } else if (answer.kind === 'nxdomain') {
        backoff.reset();
        sink.lastError = `${srvName}: no SRV records`;
        sink.update('neg');
      } else {
        sink.lastError = answer.message;
        this.options.log?.warn('DNS SRV resolution failed; keeping the last answer', { name: srvName, error: answer.message });
        next = backoff.next();
      }
      timer = setTimeout(run, next);
      timer.unref();
    };
    void run();
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    };
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
