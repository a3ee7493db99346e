import type { ConfigKind, OwnConfig } from '../config/kind.js';
import type { NamerConfig } from '../config/types.js';
import type { Namer } from '../dtab/namer.js';
import type { Path } from '../dtab/path.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { Logger } from '../util/log.js';

/** What a namer kind's `create` is given beside its config. */
export interface NamerContext {
  /** The path it answers under (`prefix`, default `/#/<kind>`), already checked. */
  prefix: Path;
  metrics: Metrics;
  /** Already labelled with the namer's prefix. */
  log: Logger;
  /** Where POD_NAMESPACE, NODE_NAME, KUBECONFIG, … come from. */
  env: NodeJS.ProcessEnv;
  /** Its entry's config key (`namers[0]`): errors name its keys under it (see namerKey). */
  key?: string;
}

/** The config key path of a namer's own key `name` (`namers[0].maxWatches`); the bare name for a namer built without an entry's key. */
export function namerKey(entry: string | undefined, name: string): string {
  return entry === undefined ? name : `${entry}.${name}`;
}

/**
 * A namer kind (`namers[].kind`): its config reader and defaults, and how to build one. One file
 * under kinds/ each; src/namers/registry.ts registers them. `create` must load heavy modules
 * itself (`await import(…)`): the config loader imports every descriptor.
 */
export interface NamerKind<C extends NamerConfig = NamerConfig> extends ConfigKind<OwnConfig<C, 'kind' | 'prefix'>> {
  create(config: C, ctx: NamerContext): Namer | Promise<Namer>;
}
