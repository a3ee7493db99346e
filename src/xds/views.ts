import { isIPv4, isIPv6 } from 'node:net';
import type { FeedView } from '../dtab/name-feed.js';
import { addressKey, addressWeight, type Address, type BoundName } from '../dtab/name.js';
import type { NameTree } from '../dtab/nametree.js';
import { forEachLeafShare } from '../dtab/route.js';

/**
 * What xDS clients are told of a bound tree, by the router's own routing rules (src/dtab/route.ts):
 * a route's clusters with their shares of calls, and a cluster's endpoints by locality.
 */

/** One cluster a route sends calls to, named by its bound id, with its weight (an integer ≥ 1). */
export interface RouteTarget {
  readonly cluster: string;
  readonly weight: number;
}

/** Weights are shares of this total, so a 99:1 canary keeps its proportions in integers. */
const ROUTE_WEIGHT_TOTAL = 10_000;

/**
 * The clusters a name's calls go to: a Leaf is its bound id; a Union shares calls among its branches
 * by `unionShares`, nested Unions multiplying out, the same id reached twice adding up. Binding has
 * already resolved every Alternation (its first branch that is not Neg), so when that changes the
 * binding changes and so does this view. Sorted by cluster, so equal routes compare equal.
 */
export function routeView(tree: NameTree<BoundName>): FeedView<readonly RouteTarget[]> {
  const shares = new Map<string, number>();
  forEachLeafShare(tree, (leaf, share) => {
    const id = leaf.id.show();
    shares.set(id, (shares.get(id) ?? 0) + share);
  });
  const targets = [...shares]
    .filter(([, share]) => share > 0)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([cluster, share]) => ({ cluster, weight: Math.max(1, Math.round(share * ROUTE_WEIGHT_TOTAL)) }));
  return { value: targets, pending: false };
}

export function sameRoute(a: readonly RouteTarget[], b: readonly RouteTarget[]): boolean {
  return a.length === b.length && a.every((t, i) => t.cluster === b[i]!.cluster && t.weight === b[i]!.weight);
}

/** An endpoint as xDS carries it: an IP, a port and an integer weight ≥ 1. */
interface XdsEndpoint {
  readonly host: string;
  readonly port: number;
  readonly weight: number;
  readonly key: string;
}

/** The endpoints of one zone (`''`: discovery gave none). */
export interface LocalityEndpoints {
  readonly zone: string;
  readonly endpoints: readonly XdsEndpoint[];
}

/** Address weights (relative, possibly fractional) become integers in these units. */
const WEIGHT_UNIT = 100;

/**
 * The endpoints of a bound cluster id, grouped by the zone discovery reports (the k8s namer reads
 * EndpointSlice `endpoints[].zone` into `meta.zone`); only ready, non-terminating endpoints reach the
 * address set, so every endpoint sent is healthy. Host names are left out (xDS endpoints are IPs),
 * as are addresses of weight 0. Pending while some leaf's discovery has not answered.
 */
export function endpointView(tree: NameTree<BoundName>): FeedView<readonly LocalityEndpoints[]> {
  let pending = false;
  const byKey = new Map<string, { address: Address; weight: number }>();
  forEachLeafShare(tree, (leaf, share) => {
    const addr = leaf.addr.sample;
    if (addr.type === 'pending') pending = true;
    if (addr.type !== 'bound') return;
    for (const a of addr.addrs) {
      const w = addressWeight(a) * share;
      if (!(w > 0) || (!isIPv4(a.host) && !isIPv6(a.host))) continue;
      const key = addressKey(a);
      const seen = byKey.get(key);
      if (seen) seen.weight += w;
      else byKey.set(key, { address: a, weight: w });
    }
  });
  const zones = new Map<string, XdsEndpoint[]>();
  for (const [key, { address, weight }] of byKey) {
    const zone = address.meta.zone ?? '';
    let list = zones.get(zone);
    if (!list) zones.set(zone, (list = []));
    list.push({ host: address.host, port: address.port, weight: Math.max(1, Math.round(weight * WEIGHT_UNIT)), key });
  }
  const value = [...zones]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([zone, endpoints]) => ({ zone, endpoints: endpoints.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)) }));
  return { value, pending };
}

export function sameEndpoints(a: readonly LocalityEndpoints[], b: readonly LocalityEndpoints[]): boolean {
  return (
    a.length === b.length &&
    a.every(
      (l, i) =>
        l.zone === b[i]!.zone &&
        l.endpoints.length === b[i]!.endpoints.length &&
        l.endpoints.every((e, j) => e.key === b[i]!.endpoints[j]!.key && e.weight === b[i]!.endpoints[j]!.weight),
    )
  );
}
