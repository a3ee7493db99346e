import type { AdminPage } from '../admin/deps.js';
import { HttpError } from '../admin/http.js';
import type { TypeDescription } from './ads-stream.js';
import type { Subscriber } from './server.js';
import { clip } from '../util/clip.js';

/**
 * The control plane's admin page: one row per ADS stream, most behind first, each type's names,
 * versions and last NACK, and how far the subscriber lags what it was last sent.
 */

/** Rows listed by default, and at most (`?limit=`): the page stays small at any fleet size. */
const DEFAULT_LIMIT = 500;
const MAX_LIMIT = 10_000;
/** Names listed per type and row; the count says how many there are. */
const NAMES_LISTED = 100;
/** A NACK's error detail as shown (the stream keeps up to 2000 characters). */
const NACK_SHOWN = 300;

interface TypeRow {
  nameCount: number;
  names: string[];
  /** The version last sent, and the version the subscriber last ACKed ('' never). */
  version: string;
  acked: string;
  /** Responses sent and not ACKed: 0 is current. */
  behind: number;
  sentAt: string | null;
  lastNack?: { at: string | null; error: string };
}

interface SubscriberRow {
  node: string;
  cluster: string;
  locality: string;
  peer: string;
  connectedAt: string;
  names: number;
  /** The most any of its types is behind. */
  behind: number;
  types: Record<string, TypeRow>;
}

export interface SubscribersView {
  now: string;
  totals: { streams: number; subscriptions: number; names: number; nacking: number; behind: number };
  listed: number;
  /** Streams beyond the limit, not listed. */
  more: number;
  subscribers: SubscriberRow[];
}

/** How many responses of a type the subscriber has not ACKed; our versions count responses per stream. */
function behind(t: TypeDescription): number {
  const sent = Number(t.version);
  const acked = t.acked === '' ? 0 : Number(t.acked);
  // A client echoing a version we never sent has ACKed nothing we know of.
  if (!Number.isInteger(acked) || acked < 0 || acked > sent) return sent;
  return sent - acked;
}

const iso = (ms: number | undefined): string | null => (ms ? new Date(ms).toISOString() : null);

/** A type's row, its names left to fill for the rows listed. */
function typeRow(t: TypeDescription): TypeRow {
  return {
    nameCount: t.nameCount,
    names: [],
    version: t.version,
    acked: t.acked,
    behind: behind(t),
    sentAt: iso(t.sentAt),
    ...(t.lastNack !== undefined ? { lastNack: { at: iso(t.nackAt), error: clip(t.lastNack, NACK_SHOWN) } } : {}),
  };
}

/** The subscribers as the page shows them: the `limit` most behind (then by node id), with totals over all. */
function subscribersView(subscribers: readonly Subscriber[], options: { now: number; names: number; limit: number }): SubscribersView {
  const rows = subscribers.map((s) => {
    const types = Object.fromEntries(Object.entries(s.types).map(([type, t]) => [type, typeRow(t)]));
    const all = Object.values(types);
    const row: SubscriberRow = {
      node: s.node,
      cluster: s.cluster,
      locality: s.locality,
      peer: s.peer,
      connectedAt: new Date(s.connectedAt).toISOString(),
      names: all.reduce((n, t) => n + t.nameCount, 0),
      behind: Math.max(0, ...all.map((t) => t.behind)),
      types,
    };
    return { row, subscriber: s };
  });
  rows.sort(({ row: a }, { row: b }) => b.behind - a.behind || (a.node < b.node ? -1 : a.node > b.node ? 1 : 0) || (a.peer < b.peer ? -1 : 1));
  const listed = rows.slice(0, options.limit);
  // Names only for the rows shown: a stream may follow thousands, and there may be thousands of streams.
  for (const { row, subscriber } of listed) {
    for (const [type, t] of Object.entries(row.types)) t.names = subscriber.names(type, NAMES_LISTED);
  }
  return {
    now: new Date(options.now).toISOString(),
    totals: {
      streams: rows.length,
      subscriptions: rows.reduce((n, r) => n + r.row.names, 0),
      names: options.names,
      nacking: rows.filter(({ row }) => Object.values(row.types).some((t) => t.lastNack)).length,
      behind: rows.filter(({ row }) => row.behind > 0).length,
    },
    listed: listed.length,
    more: rows.length - listed.length,
    subscribers: listed.map(({ row }) => row),
  };
}

function readLimit(url: URL): number {
  const text = url.searchParams.get('limit');
  if (text === null) return DEFAULT_LIMIT;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > MAX_LIMIT) throw new HttpError(400, `Invalid limit "${text.slice(0, 40)}" in the query: expected an integer from 1 to ${MAX_LIMIT}`);
  return n;
}

/** The Subscribers tab and `/xds/subscribers.json` of the control plane's admin. */
export function subscribersPage(xds: { subscribers(): Subscriber[]; readonly nameCount: number }): AdminPage {
  return {
    id: 'subscribers',
    title: 'Subscribers',
    path: '/xds/subscribers.json',
    help: `each ADS stream: node, peer, names per type, versions sent and ACKed, last NACK; most behind first; ?limit=<n> (default ${DEFAULT_LIMIT})`,
    json: (url) => subscribersView(xds.subscribers(), { now: Date.now(), names: xds.nameCount, limit: readLimit(url) }),
    script: new URL('./assets/subscribers.js', import.meta.url),
  };
}
