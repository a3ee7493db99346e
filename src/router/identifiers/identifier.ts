import type { HeaderMap } from '../../proxy/headers.js';
import { Path } from '../../dtab/path.js';

/**
 * An identifier names a request: it turns headers into a logical path under `dstPrefix`, or says
 * why it cannot. It answers a `Path` or a reason string, so a warm answer allocates nothing: each
 * identifier keeps a small map from the header value it read to the Path it built.
 */
export interface Identifier {
  identify(headers: HeaderMap): Path | string;
}

/** Parse `/a/b` (as the config and identifiers use it) into a Path without the dtab grammar. */
export function splitPath(text: string): Path {
  return new Path(text.split('/').filter((s) => s.length > 0));
}

export function headerValue(headers: HeaderMap, name: string): string | undefined {
  const v = headers[name];
  if (v === undefined) return undefined;
  // Repeated headers: the last value is used (Linkerd's documented behaviour).
  return typeof v === 'string' ? v : v[v.length - 1];
}
