import type { Activity } from '../util/activity.js';
import { constant, ok } from '../util/activity.js';
import type { Address, Name } from '../dtab/name.js';
import type { NameTree } from '../dtab/nametree.js';
import { Neg } from '../dtab/nametree.js';
import { Path } from '../dtab/path.js';
import type { LiveName } from './live-name.js';
import { DnsNamerBase, MIN_REFRESH_MS, refreshLoop, type RefreshRound } from './dns-refresh.js';

/**
 * `io.l5d.dnssrv`: `/<srv-name>[/residual]` → the SRV records' targets (resolved to addresses) and
 * ports, from the lowest-priority group, weighted by the records' weights. No records or NXDOMAIN →
 * Neg (so dtab fallbacks apply); resolver errors keep the last good answer.
 */
export class DnsSrvNamer extends DnsNamerBase {
  lookup(path: Path): Activity<NameTree<Name>> {
    if (path.size < 1) return constant<NameTree<Name>>(ok(Neg));
    const srvName = path.segments[0]!.toLowerCase();
    if (!/^[a-z0-9_.-]+$/.test(srvName)) return constant<NameTree<Name>>(ok(Neg));
    const name = this.names.get(srvName, this.prefix.concat(Path.of(srvName)), (sink) => refreshLoop(this.options, (r) => this.resolve(sink, srvName, r)));
    return name.lookup(path.drop(1));
  }

  /** One round: the SRV records, then their targets' addresses; returns the delay until the next. */
  private async resolve(sink: LiveName, srvName: string, r: RefreshRound): Promise<number | undefined> {
    const answer = await this.resolver.srv(srvName);
    if (r.stopped()) return undefined;
    this.options.onResult?.(answer.kind);
    if (answer.kind === 'error') return r.keepLastGood(sink, answer.message, { name: srvName });
    if (answer.kind === 'nxdomain') {
      r.backoff.reset();
      sink.lastError = `${srvName}: no SRV records`;
      sink.update('neg');
      return r.refreshMs;
    }
    let next = r.refreshMs;
    const best = Math.min(...answer.records.map((rec) => rec.priority));
    const group = answer.records.filter((rec) => rec.priority === best);
    const addrs: Address[] = [];
    let failed = 0;
    for (const rec of group) {
      const target = rec.name.replace(/\.$/, '');
      const found = await this.resolver.addresses(target, r.refreshMs / 1000);
      if (r.stopped()) return undefined;
      if (found.kind !== 'ok') {
        if (found.kind === 'error') failed++;
        continue;
      }
      next = Math.min(next, Math.max(MIN_REFRESH_MS, found.ttlSeconds * 1000));
      // Weight 0 means "very rarely" (RFC 2782), not never.
      for (const ip of found.records) addrs.push({ host: ip, port: rec.port, weight: rec.weight > 0 ? rec.weight : 0.01, meta: { target } });
    }
    if (failed > 0 && addrs.length === 0 && sink.state === 'bound') {
      // Every target failed to resolve: keep the last good set rather than report none.
      sink.lastError = `${srvName}: no SRV target resolved`;
      return r.backoff.next();
    }
    r.backoff.reset();
    sink.lastError = undefined;
    addrs.sort((a, b) => (a.host + ':' + a.port < b.host + ':' + b.port ? -1 : 1));
    sink.update('bound', addrs);
    return next;
  }
}
