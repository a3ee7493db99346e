import type { Dtab } from '../dtab/dtab.js';
import { parseDtab } from '../dtab/parse.js';
import { DtabSyntaxError } from '../dtab/errors.js';
import { Memo } from '../util/memo.js';
import { encodeTimeout, parseTimeout } from '../proxy/grpc.js';
import type { HeaderMap } from '../proxy/headers.js';

/**
 * The header policy a router applies to a request before naming it: the `via` loop guard, the
 * request-local dtab (`l5d-ctx-dtab` ++ `l5d-dtab`, Linkerd 1's rules) and the call's deadline.
 * Each edits the request's headers in place, as they are to be forwarded.
 */

const VIA = 'h2 kube-grpc-router';

/**
 * Appends this router to `via`. Returns why the request must be refused when it has already passed
 * more than `maxCallDepth` routers (a routing loop, failed fast), else undefined.
 */
export function addViaHop(headers: HeaderMap, maxCallDepth: number): string | undefined {
  const sent = headers['via'];
  const via = typeof sent === 'string' ? sent : sent?.join(', ');
  if (via === undefined) {
    headers['via'] = VIA;
    return undefined;
  }
  if (countHops(via) > maxCallDepth) {
    return `Maximum number of calls (${maxCallDepth}) has been exceeded. Please check for proxy loops. via: ${via}`;
  }
  headers['via'] = via + ', ' + VIA;
  return undefined;
}

function countHops(s: string): number {
  let n = 1;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) === 44) n++;
  return n;
}

/**
 * What the router parses of a request's l5d-ctx-dtab and l5d-dtab together. Overrides are a few
 * dentries; a 15 KB one cost 15 ms to parse and ~690 KB kept, once per distinct value.
 */
export const MAX_REQUEST_DTAB_BYTES = 4096;

export class RequestDtabTooLong extends Error {
  override readonly name = 'RequestDtabTooLong';
  constructor(readonly length: number) {
    super(`the request's dtab headers are ${length} bytes; the router takes at most ${MAX_REQUEST_DTAB_BYTES}`);
  }
}

/**
 * Request-local dtabs: `l5d-ctx-dtab` ++ `l5d-dtab` (later wins), removed and re-sent as one
 * `l5d-ctx-dtab`; with `clearContext`, every `l5d-*` header is dropped and nothing is honoured.
 * Parses are memoized (clients repeat the same few overrides), bounded like every table keyed by
 * what clients send.
 */
export class RequestDtabs {
  // A parsed dtab takes ~45 times its text: 64 of the longest are ~12 MB.
  private readonly parsed = new Memo<Dtab | DtabSyntaxError>(64);
  readonly empty: Dtab = parseDtab('');

  /** The request's local dtab, or the error that refuses it (INVALID_ARGUMENT): a syntax error, or too long. */
  of(headers: HeaderMap, clearContext: boolean): Dtab | DtabSyntaxError | RequestDtabTooLong {
    if (clearContext) {
      for (const k of Object.keys(headers)) if (k.startsWith('l5d-')) delete headers[k];
      return this.empty;
    }
    const ctx = headers['l5d-ctx-dtab'];
    const user = headers['l5d-dtab'];
    if (ctx === undefined && user === undefined) return this.empty;
    const key = `${joinHeader(ctx)}\n${joinHeader(user)}`;
    const length = key.length - 1;
    if (length > MAX_REQUEST_DTAB_BYTES) return new RequestDtabTooLong(length);
    const local = this.parse(key, ctx, user);
    if (local instanceof DtabSyntaxError) return local;
    delete headers['l5d-dtab'];
    if (local.isEmpty) delete headers['l5d-ctx-dtab'];
    // Weights at full precision: show() rounds to two decimals (0.999/0.001 went on as 1.00/0.00).
    else headers['l5d-ctx-dtab'] = local.encode();
    return local;
  }

  /** `key`: both headers' values, joined (the memo's key). */
  private parse(key: string, ctx: string | string[] | undefined, user: string | string[] | undefined): Dtab | DtabSyntaxError {
    const hit = this.parsed.get(key);
    if (hit !== undefined) return hit;
    let out: Dtab | DtabSyntaxError = this.empty;
    try {
      for (const v of [...asList(ctx), ...asList(user)]) out = out.concat(parseDtab(v));
    } catch (e) {
      if (!(e instanceof DtabSyntaxError)) throw e;
      out = e;
    }
    return this.parsed.set(key, out);
  }
}

/**
 * The call's deadline in ms from now: the client's `grpc-timeout`, or the router's `totalTimeoutMs`
 * when that is shorter (the endpoint is then told the shorter one). Undefined: no deadline.
 */
export function callDeadline(headers: HeaderMap, totalTimeoutMs: number | undefined): number | undefined {
  const timeout = parseTimeout(headers['grpc-timeout']);
  if (totalTimeoutMs !== undefined && totalTimeoutMs > 0 && (timeout === undefined || totalTimeoutMs < timeout)) {
    headers['grpc-timeout'] = encodeTimeout(totalTimeoutMs);
    return totalTimeoutMs;
  }
  return timeout;
}

export function joinHeader(v: string | string[] | undefined): string {
  return v === undefined ? '' : typeof v === 'string' ? v : v.join('\n');
}

function asList(v: string | string[] | undefined): string[] {
  return v === undefined ? [] : typeof v === 'string' ? [v] : v;
}
