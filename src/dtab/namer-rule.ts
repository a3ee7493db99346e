import type { GlobalNamer, Namer, PrefixedNamer } from './namer.js';
import type { Path } from './path.js';

/** One namer to ask, and what to ask it: the path below its prefix (the whole path for the global namer). */
export interface NamerCandidate {
  readonly namer: Namer;
  /** The configured namer's prefix; undefined for the global namer. */
  readonly prefix: Path | undefined;
  readonly path: Path;
}

/**
 * Which namer answers a path the dtab gave Neg for (Linkerd's `ConfiguredNamersInterpreter`): the
 * configured namers whose prefix starts the path, the last configured first (as later dentries win),
 * each given the path below its prefix; then the global namer with the whole path. The first answer
 * that is not Neg wins. Binding, delegation and readiness all ask this rule, so they agree.
 */
export class NamerRule {
  /** Configured namers in the order they are tried. */
  private readonly tryOrder: readonly PrefixedNamer[];

  constructor(
    /** In configuration order. */
    readonly namers: readonly PrefixedNamer[],
    readonly global: GlobalNamer,
  ) {
    this.tryOrder = [...namers].reverse();
  }

  /** The namers to ask for `path`, in order; the global namer last. */
  candidates(path: Path): NamerCandidate[] {
    const out: NamerCandidate[] = [];
    for (const pn of this.tryOrder) {
      if (path.startsWith(pn.prefix)) out.push({ namer: pn.namer, prefix: pn.prefix, path: path.drop(pn.prefix.size) });
    }
    out.push({ namer: this.global, prefix: undefined, path });
    return out;
  }
}
