import type { IdentifierConfig } from '../config/types.js';
import { KindRegistry } from '../util/kind-registry.js';
import { splitPath, type Identifier, type IdentifierKind } from './identifier.js';
import { headerPathIdentifier } from './kinds/header-path.js';
import { headerTokenIdentifier } from './kinds/header-token.js';

/** Every identifier `kind:` the config may name; a new kind is one file in kinds/ and one line here. */
export const identifierKinds = new KindRegistry<IdentifierKind>('identifier');
for (const kind of [headerPathIdentifier, headerTokenIdentifier] as IdentifierKind[]) identifierKinds.register(kind);

/** A router's identifiers when its config names none: the gRPC service, `/svc/<package.Service>`. A fresh list each call. */
export function defaultIdentifiers(): IdentifierConfig[] {
  return [{ kind: 'io.l5d.header.path', header: ':path', segments: 1 }];
}

export function createIdentifier(config: IdentifierConfig, dstPrefix: string): Identifier {
  const { kind, config: full } = identifierKinds.resolve(config);
  return kind.create(full, splitPath(dstPrefix));
}
