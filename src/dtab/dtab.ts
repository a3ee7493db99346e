import type { Name } from './name.js';
import { Neg, type NameTree } from './nametree.js';
import type { Path } from './path.js';
import { Prefix } from './prefix.js';
import { encodeNameTree, showNameTree } from './show.js';
import { simplify } from './simplify.js';
import { mapTree, treeEquals } from './tree.js';

export { AnyElem, Prefix, type PrefixElem } from './prefix.js';

/** One delegation rule: paths starting with `prefix` are rewritten to `dst` (plus what followed the prefix). */
export class Dentry {
  private shown: string | undefined;
  private encoded: string | undefined;

  constructor(
    readonly prefix: Prefix,
    readonly dst: NameTree<Path>,
  ) {}

  /** Finagle's form: `prefix=>tree`, no spaces around `=>`. */
  show(): string {
    if (this.shown === undefined) this.shown = `${this.prefix.show()}=>${showNameTree(this.dst)}`;
    return this.shown;
  }

  /** `show` with weights at full precision (`encodeNameTree`): what keys and forwarded headers use. */
  encode(): string {
    if (this.encoded === undefined) this.encoded = `${this.prefix.show()}=>${encodeNameTree(this.dst)}`;
    return this.encoded;
  }

  equals(other: Dentry): boolean {
    return this === other || (this.prefix.equals(other.prefix) && treeEquals(this.dst, other.dst, pathEquals));
  }

  toString(): string {
    return this.show();
  }
}

/** A dentry that matches a path, and its tree for that path. */
export interface DentryMatch {
  readonly dentry: Dentry;
  readonly tree: NameTree<Name>;
}

/** The tree a list of matches (latest first) stands for: Neg, the one tree, or an Alt of them. */
export function lookupTree(matches: readonly DentryMatch[]): NameTree<Name> {
  if (matches.length === 0) return Neg;
  if (matches.length === 1) return matches[0]!.tree;
  return { kind: 'alt', trees: matches.map((m) => m.tree) };
}

/**
 * A delegation table: dentries in order, later ones taking precedence (Finagle's `Dtab`).
 * Immutable; `concat` is Finagle's `++` (the base dtab first, then the request-local one).
 */
export class Dtab {
  static readonly empty = new Dtab([]);

  private shown: string | undefined;
  private encoded: string | undefined;

  constructor(readonly dentries: readonly Dentry[]) {}

  static of(...dentries: Dentry[]): Dtab {
    return dentries.length === 0 ? Dtab.empty : new Dtab(dentries);
  }

  get size(): number {
    return this.dentries.length;
  }

  get isEmpty(): boolean {
    return this.dentries.length === 0;
  }

  concat(other: Dtab): Dtab {
    if (other.isEmpty) return this;
    if (this.isEmpty) return other;
    return new Dtab([...this.dentries, ...other.dentries]);
  }

  append(dentry: Dentry): Dtab {
    return new Dtab([...this.dentries, dentry]);
  }

  /**
   * The one matching step (the first half of Finagle's `Dtab.lookup`): every dentry whose prefix
   * matches `path`, scanned last to first, with its tree rewritten for this path (the rest of the
   * path appended to each leaf). Binding, delegation and readiness all start from this.
   */
  matches(path: Path): DentryMatch[] {
    const out: DentryMatch[] = [];
    const dentries = this.dentries;
    for (let i = dentries.length - 1; i >= 0; i--) {
      const dentry = dentries[i]!;
      if (!dentry.prefix.matches(path)) continue;
      const residual = path.drop(dentry.prefix.size);
      out.push({ dentry, tree: mapTree<Path, Name>(dentry.dst, (p) => ({ kind: 'path', path: p.concat(residual) })) });
    }
    return out;
  }

  /**
   * Finagle's `Dtab.lookup`: the matches as one tree. No match: Neg; one: its tree; several: an
   * Alt of them, latest first (not flattened).
   */
  lookup(path: Path): NameTree<Name> {
    return lookupTree(this.matches(path));
  }

  /** Dentries with simplified destinations; those that simplify to Neg are dropped (they are no-ops). */
  simplified(): Dtab {
    const out: Dentry[] = [];
    for (const d of this.dentries) {
      const dst = simplify(d.dst);
      if (dst.kind !== 'neg') out.push(new Dentry(d.prefix, dst));
    }
    return new Dtab(out);
  }

  equals(other: Dtab): boolean {
    return this === other || (this.size === other.size && this.dentries.every((d, i) => d.equals(other.dentries[i]!)));
  }

  /** Finagle's form: dentries joined by `;`, no spaces. The empty dtab shows as the empty string. */
  show(): string {
    if (this.shown === undefined) this.shown = this.dentries.map((d) => d.show()).join(';');
    return this.shown;
  }

  /**
   * `show` with weights at full precision: the dtab as it is keyed (the binding cache) and sent on
   * (`l5d-ctx-dtab`), so that dtabs differing only past a weight's second decimal stay apart.
   * `show` (two decimals, as Finagle prints) is for people: the admin, the dashboard, errors.
   */
  encode(): string {
    if (this.encoded === undefined) this.encoded = this.dentries.map((d) => d.encode()).join(';');
    return this.encoded;
  }

  toString(): string {
    return this.show();
  }
}

function pathEquals(a: Path, b: Path): boolean {
  return a.equals(b);
}
