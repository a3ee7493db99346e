import type { OwnConfig } from '../../config/kind.js';
import type { IdentifierConfig } from '../../config/types.js';
import type { HeaderMap } from '../../proxy/headers.js';
import { Path } from '../../dtab/path.js';
import { isLabelChar } from '../../dtab/path.js';
import { Memo } from '../../util/memo.js';
import { headerValue, type Identifier, type IdentifierKind } from '../identifier.js';

export interface HeaderPathConfig extends IdentifierConfig {
  /** Lower case. Default `:path`. */
  header: string;
  /** How many segments name the service; absent: all of them. */
  segments?: number;
}

const DEFAULTS = { header: ':path' } as const;

/**
 * `io.l5d.header.path`: the first `segments` segments of a path header (default `:path`) under
 * `dstPrefix`, after cutting the query and one trailing `/`. For gRPC with `segments: 1`,
 * `/com.example.grpc.EchoService/echo` is named `/svc/com.example.grpc.EchoService`.
 */
export class HeaderPathIdentifier implements Identifier {
  private readonly memo = new Memo<Path | string>();

  constructor(
    private readonly prefix: Path,
    private readonly header: string,
    private readonly segments: number | undefined,
  ) {}

  identify(headers: HeaderMap): Path | string {
    const raw = headerValue(headers, this.header);
    if (raw === undefined || raw === '') return `missing header: '${this.header}'`;
    return this.memo.get(raw) ?? this.memo.set(raw, this.build(raw));
  }

  private build(raw: string): Path | string {
    let value = raw;
    const q = value.indexOf('?');
    if (q >= 0) value = value.slice(0, q);
    if (value.length > 1 && value.endsWith('/')) value = value.slice(0, -1);
    if (!value.startsWith('/')) return `${this.header} '${raw}' is not a path`;
    const parts = value === '/' ? [] : value.slice(1).split('/');
    for (const p of parts) {
      if (p.length === 0) return `${this.header} '${raw}' has an empty segment`;
      for (let i = 0; i < p.length; i++) {
        if (!isLabelChar(p.charCodeAt(i))) return `${this.header} '${raw}' has a character not allowed in a path: '${p[i]}'`;
      }
    }
    const n = this.segments;
    if (n !== undefined) {
      if (parts.length < n) return `Path must have at least ${n} segment(s): ${raw}`;
      return this.prefix.concat(new Path(parts.slice(0, n)));
    }
    if (parts.length === 0) return 'Missing destination path';
    return this.prefix.concat(new Path(parts));
  }
}

export const headerPathIdentifier: IdentifierKind<HeaderPathConfig> = {
  kind: 'io.l5d.header.path',
  keys: ['header', 'segments'],
  defaults: DEFAULTS,
  read(f) {
    const out: OwnConfig<HeaderPathConfig, 'kind'> = { header: (f.get('header').string() ?? DEFAULTS.header).toLowerCase() };
    const segments = f.get('segments').int(1, 1000);
    if (segments !== undefined) out.segments = segments;
    return out;
  },
  create: (config, dstPrefix) => new HeaderPathIdentifier(dstPrefix, (config.header || DEFAULTS.header).toLowerCase(), config.segments),
};
