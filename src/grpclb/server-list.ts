import { isIPv4, isIPv6 } from 'node:net';
import { addressKey, addressWeight, type Addr, type Address, type BoundName } from '../dtab/name.js';
import type { NameTree } from '../dtab/nametree.js';
import type { NameFeedOptions } from '../dtab/name-feed.js';
import { forEachLeafShare } from '../dtab/route.js';

/** One grpclb `Server` entry: an IP address in network byte order and a port. */
export interface LbServer {
  readonly ip: Buffer;
  readonly port: number;
  /** `ip:port` (IPv6 bracketed), for comparing lists and for logs. */
  readonly key: string;
}

/** What a bound tree gives grpclb clients right now. */
export interface ServerListResult {
  /** The entries, in the order clients should use them; an address may repeat (see `serverList`). */
  readonly servers: readonly LbServer[];
  /** Some leaf's discovery has not answered yet (its addresses are missing from `servers`). */
  readonly pending: boolean;
  /** Addresses left out because they are host names, not IPs (grpclb carries IP bytes only). */
  readonly skipped: readonly string[];
}

/** A list never grows past this many entries, whatever the weights ask for. */
export const MAX_ENTRIES = 1000;

/**
 * The grpclb server list of a bound tree, by the router's own routing rules (src/dtab/route.ts):
 * a Leaf's addresses share its calls by their weights; a Union's branches share calls by
 * `unionShares`; Neg, Fail and Empty branches get nothing. grpclb clients round-robin over the list
 * (`round_robin` is grpclb's child policy in every gRPC implementation), so unequal shares are
 * written as repetitions: each address appears in proportion to its share of calls, the rarest once
 * (a 9:1 canary gives nine entries per stable endpoint's share for every one of the canary's),
 * interleaved evenly, and at most MAX_ENTRIES entries in all (shares are then rounded, each address
 * keeping at least one entry).
 *
 * Where the router differs: a Union branch that binds but has no endpoints is a black hole for its
 * share of router calls (they fail `UNAVAILABLE`); grpclb has no way to say "fail this share" without
 * drop tokens, so that share goes to the other branches.
 */
export function serverList(tree: NameTree<BoundName>, addrOf: (bound: BoundName) => Addr = (b) => b.addr.sample): ServerListResult {
  const shares = new Map<string, { address: Address; share: number }>();
  const skipped: string[] = [];
  let pending = false;

  forEachLeafShare(tree, (leaf, share) => {
    const addr = addrOf(leaf);
    if (addr.type === 'pending') pending = true;
    if (addr.type !== 'bound') return;
    let total = 0;
    for (const a of addr.addrs) total += addressWeight(a);
    for (const a of addr.addrs) {
      const w = addressWeight(a);
      if (!(total > 0) || w <= 0) continue;
      if (!isIPv4(a.host) && !isIPv6(a.host)) {
        skipped.push(`${a.host}:${a.port}`);
        continue;
      }
      const key = addressKey(a);
      const s = (share * w) / total;
      const seen = shares.get(key);
      if (seen === undefined) shares.set(key, { address: a, share: s });
      else seen.share += s;
    }
  });
  return { servers: interleave(repetitions([...shares.values()])), pending, skipped };
}

/** How many entries each address gets: its share over the smallest share, within MAX_ENTRIES. */
function repetitions(items: { address: Address; share: number }[]): { server: LbServer; count: number }[] {
  if (items.length === 0) return [];
  // Sorted by address so equal sets give equal lists whatever order discovery reported them in.
  items.sort((a, b) => compareKeys(addressKey(a.address), addressKey(b.address)));
  let min = Infinity;
  let total = 0;
  for (const i of items) {
    min = Math.min(min, i.share);
    total += i.share;
  }
  let counts = items.map((i) => Math.max(1, Math.round(i.share / min)));
  if (counts.reduce((a, b) => a + b, 0) > MAX_ENTRIES) {
    const room = Math.max(items.length, MAX_ENTRIES);
    counts = items.map((i) => Math.max(1, Math.floor((i.share / total) * (room - items.length)) + 1));
  }
  return items.map((i, n) => ({ server: toServer(i.address), count: counts[n]! }));
}

/** Smooth weighted round robin over the counts: each address's entries spread evenly through the list. */
function interleave(items: { server: LbServer; count: number }[]): LbServer[] {
  const total = items.reduce((a, b) => a + b.count, 0);
  if (items.every((i) => i.count === 1)) return items.map((i) => i.server);
  const current = items.map(() => 0);
  const out: LbServer[] = [];
  for (let n = 0; n < total; n++) {
    let best = 0;
    for (let i = 0; i < items.length; i++) {
      current[i]! += items[i]!.count;
      if (current[i]! > current[best]!) best = i;
    }
    current[best]! -= total;
    out.push(items[best]!.server);
  }
  return out;
}

function toServer(a: Address): LbServer {
  return { ip: ipBytes(a.host), port: a.port, key: addressKey(a) };
}

/** An IP address (v4 dotted quad, or v6 in any textual form, with an IPv4 tail or a zone) as bytes. */
export function ipBytes(ip: string): Buffer {
  if (isIPv4(ip)) return Buffer.from(ip.split('.').map(Number));
  let text = ip;
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  const words: number[] = [];
  const parse = (part: string): number[] => {
    if (part === '') return [];
    const out: number[] = [];
    for (const g of part.split(':')) {
      if (g.includes('.')) {
        const [a, b, c, d] = g.split('.').map(Number) as [number, number, number, number];
        out.push((a << 8) | b, (c << 8) | d);
      } else out.push(parseInt(g, 16));
    }
    return out;
  };
  const gap = text.indexOf('::');
  if (gap < 0) words.push(...parse(text));
  else {
    const head = parse(text.slice(0, gap));
    const tail = parse(text.slice(gap + 2));
    words.push(...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail);
  }
  const out = Buffer.alloc(16);
  words.forEach((w, i) => out.writeUInt16BE(w, i * 2));
  return out;
}

/** Whether two lists are the same entries in the same order (what makes a push worth sending). */
export function sameServers(a: readonly LbServer[], b: readonly LbServer[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i]!.key !== b[i]!.key) return false;
  return true;
}

function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A NameFeed's view for grpclb: the server list, published when its entries change. */
export const SERVER_LIST_VIEW: Pick<NameFeedOptions<ServerListResult>, 'view' | 'same'> = {
  view: (tree) => {
    const list = serverList(tree);
    return { value: list, pending: list.pending };
  },
  same: (a, b) => sameServers(a.servers, b.servers),
};
