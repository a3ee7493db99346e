/**
 * A Finagle `Path`: a sequence of non-empty segments. Segments are byte strings; we hold each as a
 * JavaScript string with one char per byte (0–255), which keeps the hot path free of Buffers.
 */
const LABEL_CHAR = (() => {
  const table = new Uint8Array(256);
  for (const c of '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_:.#$%-') table[c.charCodeAt(0)] = 1;
  return table;
})();

/** True when the byte may stand in a path segment unescaped. */
export function isLabelChar(code: number): boolean {
  return code < 256 && LABEL_CHAR[code] === 1;
}

/** A segment shown as text when every byte is a label char, else every byte as `\xhh`. */
export function showSegment(segment: string): string {
  for (let i = 0; i < segment.length; i++) {
    if (!isLabelChar(segment.charCodeAt(i))) {
      let out = '';
      for (let j = 0; j < segment.length; j++) out += '\\x' + segment.charCodeAt(j).toString(16).padStart(2, '0');
      return out;
    }
  }
  return segment;
}

export class Path {
  static readonly empty = new Path([]);

  private shown: string | undefined;

  constructor(readonly segments: readonly string[]) {}

  static of(...segments: string[]): Path {
    return new Path(segments);
  }

  get size(): number {
    return this.segments.length;
  }

  get isEmpty(): boolean {
    return this.segments.length === 0;
  }

  take(n: number): Path {
    return n >= this.segments.length ? this : new Path(this.segments.slice(0, n));
  }

  drop(n: number): Path {
    return n <= 0 ? this : new Path(this.segments.slice(n));
  }

  concat(other: Path): Path {
    if (other.isEmpty) return this;
    if (this.isEmpty) return other;
    return new Path([...this.segments, ...other.segments]);
  }

  startsWith(prefix: Path): boolean {
    if (prefix.size > this.size) return false;
    for (let i = 0; i < prefix.size; i++) if (prefix.segments[i] !== this.segments[i]) return false;
    return true;
  }

  equals(other: Path): boolean {
    return this === other || (this.size === other.size && this.startsWith(other));
  }

  /** Canonical form: `/` for the empty path, otherwise `/a/b` with non-label segments escaped. */
  show(): string {
    if (this.shown === undefined) {
      this.shown = this.isEmpty ? '/' : this.segments.map((s) => '/' + showSegment(s)).join('');
    }
    return this.shown;
  }

  toString(): string {
    return this.show();
  }
}
