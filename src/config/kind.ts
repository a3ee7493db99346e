import { isMap } from 'yaml';
import type { KindRegistry } from '../util/kind-registry.js';
import type { Field, Fields } from './yaml-reader.js';

/** What a kind's config reader may need from the loader. */
export interface KindContext {
  /** A path from the config made absolute against the config file's directory. */
  path(p: string): string;
}

/**
 * A kind's own config: its config type `C` without the keys every kind of its block shares, and
 * without the open index signature the block's base type carries (so named keys keep their types).
 */
export type OwnConfig<C, Shared extends string> = {
  [K in keyof C as string extends K ? never : number extends K ? never : K extends Shared ? never : K]: C[K];
};

/**
 * The config half of a registered kind: its own keys, their defaults and the reader that checks
 * them. `Own` is the kind's config less what every kind of its block shares (`kind`, a namer's
 * `prefix`, a balancer's `decayTimeMs`). Each room's descriptor adds its `create`.
 */
export interface ConfigKind<Own extends object = object> {
  readonly kind: string;
  /** Keys of its own beside the block's common ones; none when absent. */
  readonly keys?: readonly string[];
  /**
   * Values its reader fills for absent keys, written once here; `create` gets them under a config
   * built by hand too (tests, benches, `-p` mode).
   */
  readonly defaults?: Partial<Own>;
  /** Read its own keys; undefined when one is wrong (the issue is already recorded at that key). */
  read?(fields: Fields, ctx: KindContext): Own | undefined;
}

export interface KindBlock {
  /** `a namer kind`: what `kind:` must be, for "missing required key (expected …)". */
  kindWord: string;
  /** Keys every kind of this block takes, `kind` included. */
  common: readonly string[];
  /** Reads the common keys other than `kind` (a namer's `prefix`), given the kind's name. */
  readCommon?: (fields: Fields, kind: string) => object;
  /** Linkerd keys accepted and ignored in this block. */
  ignored?: Readonly<Record<string, string>>;
  /** What a non-mapping was expected to be (default "a mapping"). */
  shape?: string;
}

/**
 * Read a `kind:`-selected block: the kind first (it decides which keys are allowed), checked
 * against the registry's names with a "did you mean", then the block's keys (common plus the
 * kind's own, anything else unknown), the common ones read here and the rest by the kind.
 * Undefined when the block is absent or wrong (each issue recorded where it is).
 */
export function readKindBlock<C extends { kind: string }>(field: Field, kinds: KindRegistry<ConfigKind>, block: KindBlock, ctx: KindContext): C | undefined {
  if (!field.present) return undefined;
  if (!isMap(field.node)) return field.expected(block.shape ?? 'a mapping');
  const name = field.peek('kind').required(block.kindWord)?.oneOf(kinds.names());
  const kind = name === undefined ? undefined : kinds.get(name);
  if (!kind) return undefined;
  const fields = field.object([...block.common, ...(kind.keys ?? [])], block.ignored);
  if (!fields) return undefined;
  const common = block.readCommon?.(fields, kind.kind);
  const own = kind.read ? kind.read(fields, ctx) : {};
  return own && ({ kind: kind.kind, ...common, ...own } as unknown as C);
}
