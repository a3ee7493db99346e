import type { IdentifierConfig } from '../config/types.js';
import type { Path } from '../dtab/path.js';
import type { HeaderMap } from '../proxy/headers.js';
import type { Identifier } from './identifier.js';
import { createIdentifier, defaultIdentifiers } from './registry.js';

/** A list of identifiers tried in order: the first to name the request wins; else all reasons. */
export class IdentifierChain implements Identifier {
  private readonly list: Identifier[];
  constructor(configs: readonly IdentifierConfig[], dstPrefix: string) {
    this.list = (configs.length > 0 ? configs : defaultIdentifiers()).map((c) => createIdentifier(c, dstPrefix));
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
