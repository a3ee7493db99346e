import type { ConfigKind, OwnConfig } from '../config/kind.js';
import type { IdentifierConfig } from '../config/types.js';
import type { HeaderMap } from '../proxy/headers.js';
import { Path } from '../dtab/path.js';

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

/**
 * An identifier kind (`identifier[].kind`): its config reader and defaults, and how to build one
 * naming requests under `dstPrefix`. One file under kinds/ each; ./registry.ts registers them.
 */
export interface IdentifierKind<C extends IdentifierConfig = IdentifierConfig> extends ConfigKind<OwnConfig<C, 'kind'>> {
  create(config: C, dstPrefix: Path): Identifier;
}
