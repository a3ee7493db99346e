import type { HeaderMap } from '../../proxy/headers.js';
import { Path } from '../../dtab/path.js';
import { Memo } from '../../util/memo.js';
import { headerValue, type Identifier } from './identifier.js';

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
