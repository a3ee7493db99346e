import type { HeaderMap } from '../../proxy/headers.js';
import type { IdentifierConfig } from '../../config/types.js';
import type { Path } from '../../dtab/path.js';
import { HeaderPathIdentifier } from './header-path.js';
import { HeaderTokenIdentifier } from './header-token.js';
import { splitPath, type Identifier } from './identifier.js';

export { type Identifier, splitPath } from './identifier.js';
export { HeaderPathIdentifier } from './header-path.js';
export { HeaderTokenIdentifier } from './header-token.js';

/** Identifier kinds by their config `kind`, as the config room validates them. */
export const IDENTIFIER_KINDS = ['io.l5d.header.path', 'io.l5d.header.token'] as const;

export function createIdentifier(config: IdentifierConfig, dstPrefix: string): Identifier {
  const prefix = splitPath(dstPrefix);
  switch (config.kind) {
    case 'io.l5d.header.path':
      return new HeaderPathIdentifier(prefix, (config.header || ':path').toLowerCase(), config.segments);
    case 'io.l5d.header.token':
      return new HeaderTokenIdentifier(prefix, (config.header || ':authority').toLowerCase());
    default:
      throw new Error(`unknown identifier kind '${(config as { kind: string }).kind}'`);
  }
}

/** A list of identifiers tried in order: the first to name the request wins; else all reasons. */
export class IdentifierChain implements Identifier {
  private readonly list: Identifier[];
  constructor(configs: readonly IdentifierConfig[], dstPrefix: string) {
    const list = configs.length > 0 ? configs : [{ kind: 'io.l5d.header.path', header: ':path', segments: 1 } as IdentifierConfig];
    this.list = list.map((c) => createIdentifier(c, dstPrefix));
  }

  identify(headers: HeaderMap): Path | string {
    if (this.list.length === 1) return this.list[0]!.identify(headers);
    let reasons = '';
    for (const id of this.list) {
      const r = id.identify(headers);
      if (typeof r !== 'string') return r;
      reasons += (reasons ? '; ' : '') + r;
    }
    return reasons;
  }
}
