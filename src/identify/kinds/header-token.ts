import type { IdentifierConfig } from '../../config/types.js';
import type { HeaderMap } from '../../proxy/headers.js';
import { Path } from '../../dtab/path.js';
import { Memo } from '../../util/memo.js';
import { headerValue, type Identifier, type IdentifierKind } from '../identifier.js';

export interface HeaderTokenConfig extends IdentifierConfig {
  /** Lower case. Default `:authority`. */
  header: string;
}

const DEFAULTS = { header: ':authority' } as const;

/**
 * `io.l5d.header.token`: `dstPrefix` plus one segment holding the raw header value (default
 * `:authority`), e.g. `/svc/echo.default:4140`. Any bytes are allowed; they show escaped.
 */
export class HeaderTokenIdentifier implements Identifier {
  private readonly memo = new Memo<Path>();

  constructor(
    private readonly prefix: Path,
    private readonly header: string,
  ) {}

  identify(headers: HeaderMap): Path | string {
    const raw = headerValue(headers, this.header);
    if (raw === undefined || raw === '') return `missing header: '${this.header}'`;
    return this.memo.get(raw) ?? this.memo.set(raw, this.prefix.concat(Path.of(raw)));
  }
}

export const headerTokenIdentifier: IdentifierKind<HeaderTokenConfig> = {
  kind: 'io.l5d.header.token',
  // `segments` is io.l5d.header.path's: taken here only to say so.
  keys: ['header', 'segments'],
  defaults: DEFAULTS,
  read(f) {
    if (f.has('segments')) f.get('segments').fail(`"segments" applies to io.l5d.header.path only`);
    return { header: (f.get('header').string() ?? DEFAULTS.header).toLowerCase() };
  },
  create: (config, dstPrefix) => new HeaderTokenIdentifier(dstPrefix, (config.header || DEFAULTS.header).toLowerCase()),
};
