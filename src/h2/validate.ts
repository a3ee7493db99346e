// Field validation for received header blocks, RFC 9113 §8.2–§8.3. A block that
// fails is "malformed" (§8.1.1): a stream error of type PROTOCOL_ERROR, never a
// connection error, so one bad request costs only its own stream. The HPACK
// decoder has already flagged upper-case names (FIELD_NAME_UPPERCASE) and values
// with NUL, CR or LF (FIELD_VALUE_FORBIDDEN) as it read their octets, and its
// table keeps the flags, so a field sent by index is not scanned again.
//
// Each check returns null when the block is fine, or a short stable reason the
// connection layer counts and puts in its log; no exceptions on the hot path.

import { FIELD_NAME_UPPERCASE, FIELD_VALUE_FORBIDDEN, type HeaderList } from './hpack/index.js';

/** Connection-specific fields, forbidden in HTTP/2 (§8.2.2). */
function isConnectionSpecific(name: string): boolean {
  switch (name) {
    case 'connection':
    case 'keep-alive':
    case 'proxy-connection':
    case 'transfer-encoding':
    case 'upgrade':
      return true;
    default:
      return false;
  }
}

/**
 * Checks the regular (non-pseudo) field at i. Returns a reason or null.
 */
function checkRegular(list: HeaderList, i: number): string | null {
  const name = list.names[i]!;
  if ((list.flags[i]! & FIELD_NAME_UPPERCASE) !== 0) return 'uppercase-field-name'; // §8.2.1
  if (name.length === 0) return 'empty-field-name'; // §8.2.1 (a name is a token)
  if (isConnectionSpecific(name)) return 'connection-specific-field'; // §8.2.2
  // §8.2.2: TE is allowed, but only with the value "trailers".
  if (name === 'te' && list.values[i] !== 'trailers') return 'te-not-trailers';
  // §8.2.1: no NUL, CR or LF in a value (forwarded, they could smuggle requests on an HTTP/1.1 leg).
  if ((list.flags[i]! & FIELD_VALUE_FORBIDDEN) !== 0) return 'bad-field-value';
  return null;
}

/**
 * A request header block (§8.3.1): pseudo-fields first, each at most once, only the
 * request ones; :method, :scheme and :path required (CONNECT: :method and :authority
 * only, §8.5).
 */
export function validateRequest(list: HeaderList): string | null {
  let method = '';
  let scheme = false;
  let path = false;
  let authority = false;
  let regular = false;
  for (let i = 0; i < list.length; i++) {
    const name = list.names[i]!;
    if (name.length > 0 && name.charCodeAt(0) === 0x3a /* ':' */) {
      if (regular) return 'pseudo-field-after-regular'; // §8.3
      switch (name) {
        case ':method':
          if (method !== '') return 'duplicate-pseudo-field';
          method = list.values[i]!;
          if (method === '') return 'empty-pseudo-field';
          break;
        case ':scheme':
          if (scheme) return 'duplicate-pseudo-field';
          scheme = true;
          break;
        case ':path':
          if (path) return 'duplicate-pseudo-field';
          if (list.values[i] === '') return 'empty-pseudo-field'; // §8.3.1
          path = true;
          break;
        case ':authority':
          if (authority) return 'duplicate-pseudo-field';
          authority = true;
          break;
        default:
          return 'unknown-pseudo-field'; // §8.3: includes :status in a request
      }
      continue;
    }
    regular = true;
    const bad = checkRegular(list, i);
    if (bad !== null) return bad;
  }
  if (method === '') return 'missing-method';
  if (method === 'CONNECT') {
    // §8.5: CONNECT carries :authority and no :scheme or :path.
    if (!authority || scheme || path) return 'bad-connect-request';
    return null;
  }
  if (!scheme) return 'missing-scheme';
  if (!path) return 'missing-path';
  return null;
}

/** A response header block (§8.3.2): exactly one :status, three digits, and no other pseudo-field. */
export function validateResponse(list: HeaderList): string | null {
  let status = false;
  let regular = false;
  for (let i = 0; i < list.length; i++) {
    const name = list.names[i]!;
    if (name.length > 0 && name.charCodeAt(0) === 0x3a) {
      if (regular) return 'pseudo-field-after-regular';
      if (name !== ':status') return 'unknown-pseudo-field';
      if (status) return 'duplicate-pseudo-field';
      if (!isStatusCode(list.values[i]!)) return 'bad-status';
      status = true;
      continue;
    }
    regular = true;
    const bad = checkRegular(list, i);
    if (bad !== null) return bad;
  }
  return status ? null : 'missing-status';
}

/** Three digits, the first not 0 (RFC 9110 §15): checked by char codes, once per response. */
function isStatusCode(v: string): boolean {
  if (v.length !== 3) return false;
  const a = v.charCodeAt(0), b = v.charCodeAt(1), c = v.charCodeAt(2);
  return a >= 0x31 && a <= 0x39 && b >= 0x30 && b <= 0x39 && c >= 0x30 && c <= 0x39;
}

/** A trailer block (§8.1): no pseudo-fields at all. */
export function validateTrailers(list: HeaderList): string | null {
  for (let i = 0; i < list.length; i++) {
    const name = list.names[i]!;
    if (name.length > 0 && name.charCodeAt(0) === 0x3a) return 'pseudo-field-in-trailers';
    const bad = checkRegular(list, i);
    if (bad !== null) return bad;
  }
  return null;
}

/** The :status value of a validated response block ('' if absent). */
export function statusOf(list: HeaderList): string {
  for (let i = 0; i < list.length; i++) if (list.names[i] === ':status') return list.values[i]!;
  return '';
}
