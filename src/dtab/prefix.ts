import { Path, showSegment } from './path.js';

/** The `*` element of a dentry prefix: matches exactly one segment, whatever it is. */
export const AnyElem: unique symbol = Symbol.for('kube-grpc-router.dtab.AnyElem');
export type AnyElem = typeof AnyElem;

/** A prefix element: a label (one segment, one char per byte) or `*`. */
export type PrefixElem = string | AnyElem;

/** Finagle's `Dentry.Prefix`: the left side of a dentry. */
export class Prefix {
  static readonly empty = new Prefix([]);

  private shown: string | undefined;

  constructor(readonly elems: readonly PrefixElem[]) {}

  static of(...elems: PrefixElem[]): Prefix {
    return new Prefix(elems);
  }

  get size(): number {
    return this.elems.length;
  }

  get isEmpty(): boolean {
    return this.elems.length === 0;
  }

  /** True when `path` starts with this prefix, segment by segment (`/foo` does not match `/foobar`). */
  matches(path: Path): boolean {
    const elems = this.elems;
    const segments = path.segments;
    if (elems.length > segments.length) return false;
    for (let i = 0; i < elems.length; i++) {
      const e = elems[i];
      if (e !== AnyElem && e !== segments[i]) return false;
    }
    return true;
  }

  equals(other: Prefix): boolean {
    if (this === other) return true;
    if (this.elems.length !== other.elems.length) return false;
    for (let i = 0; i < this.elems.length; i++) if (this.elems[i] !== other.elems[i]) return false;
    return true;
  }

  /** `/` for the empty prefix, else `/a/*` with non-label segments escaped as `\xhh`. */
  show(): string {
    if (this.shown === undefined) {
      this.shown = this.isEmpty ? '/' : this.elems.map((e) => '/' + (e === AnyElem ? '*' : showSegment(e))).join('');
    }
    return this.shown;
  }

  toString(): string {
    return this.show();
  }
}
