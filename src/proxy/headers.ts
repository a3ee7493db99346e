import { FIELD_NEVER_INDEXED, type FieldSink, type HeaderList } from '../h2/hpack/index.js';

/**
 * A request's header fields as the router's policy reads and edits them: one plain object, made
 * once per request from the decoded block (the engine's HeaderList is reused by the next block).
 * A name sent more than once keeps every value, in order, as an array. The engine has already
 * refused what RFC 9113 §8.2 forbids (connection-specific fields, upper case, `te` other than
 * `trailers`), so nothing here strips anything.
 */
export type HeaderMap = Record<string, string | string[] | undefined>;

/** Names the client sent as "never indexed" (RFC 7541 §6.2.3); kept off the enumerable keys. */
const kNeverIndexed = Symbol('neverIndexed');
type Tagged = HeaderMap & { [kNeverIndexed]?: string[] };

/** The decoded block as a HeaderMap. */
export function headerMapOf(list: HeaderList): HeaderMap {
  const map: Tagged = {};
  const { names, values, flags } = list;
  for (let i = 0; i < list.length; i++) {
    const name = names[i]!;
    const prev = map[name];
    if (prev === undefined) map[name] = values[i]!;
    else if (typeof prev === 'string') map[name] = [prev, values[i]!];
    else prev.push(values[i]!);
    // §7.1.3: an intermediary must forward a never-indexed field the same way.
    if ((flags[i]! & FIELD_NEVER_INDEXED) !== 0) (map[kNeverIndexed] ??= []).push(name);
  }
  return map;
}

/**
 * Writes the fields to send for `map` into `sink` (the HPACK encoder: no list of pairs per
 * request), pseudo-fields first (§8.3). Keys are in insertion order and a received block has its
 * pseudo-fields first, so only fields the router added can be out of place and they are never
 * pseudo-fields.
 */
export function writeFields(map: HeaderMap, sink: FieldSink): void {
  const never = (map as Tagged)[kNeverIndexed];
  for (const name in map) {
    const v = map[name];
    if (v === undefined) continue;
    const flag = never !== undefined && never.includes(name) ? FIELD_NEVER_INDEXED : 0;
    if (typeof v === 'string') sink.onField(name, v, flag);
    else for (let i = 0; i < v.length; i++) sink.onField(name, v[i]!, flag);
  }
}

/** The value of `name` in a decoded block, or undefined. */
export function valueOf(list: HeaderList, name: string): string | undefined {
  for (let i = 0; i < list.length; i++) if (list.names[i] === name) return list.values[i];
  return undefined;
}
