/**
 * A dtab (or path, prefix, name tree, dentry) that does not parse. It says where (offset, line,
 * column, and the source file when known), what the grammar expected and what it found, and shows
 * the offending line with the bad character bracketed the way Finagle does: `/foo[^]bar`.
 */
export class DtabSyntaxError extends Error {
  override readonly name = 'DtabSyntaxError';
  /** `expected '=>' but found 'b'` — the message without its position. */
  readonly reason: string;

  constructor(
    /** What was being parsed: `dtab`, `path`, `prefix`, `name tree` or `dentry`. */
    readonly what: string,
    readonly offset: number,
    readonly line: number,
    readonly column: number,
    readonly expected: readonly string[],
    /** The offending character, or null at the end of the input. */
    readonly found: string | null,
    /** The offending line with the character marked, e.g. `/boo => /foo [b]ar`, `/foo/[]` at the end. */
    readonly excerpt: string,
    readonly source?: string,
  ) {
    const reason = `expected ${listOf(expected)} but found ${found === null ? 'end of input' : quote(found)}`;
    super(`${what} line ${line}, column ${column}: ${reason}`);
    this.reason = reason;
  }

  /** `FILE:LINE:COL: reason` when the source file is known, else the plain message. */
  format(source: string | undefined = this.source): string {
    return source === undefined ? this.message : `${source}:${this.line}:${this.column}: ${this.reason}`;
  }

  /** The same error attributed to a source file (a dtab file, a config key). */
  withSource(source: string): DtabSyntaxError {
    return new DtabSyntaxError(this.what, this.offset, this.line, this.column, this.expected, this.found, this.excerpt, source);
  }

  override toString(): string {
    return this.format();
  }
}

const INVISIBLE = /^[\p{C}\p{Z}]$/u;

export function quote(ch: string): string {
  if (ch === '\n') return "'\\n'";
  if (ch === '\r') return "'\\r'";
  if (ch === '\t') return "'\\t'";
  const code = ch.codePointAt(0) ?? 0;
  if (code < 0x20 || code === 0x7f) return `'\\x${code.toString(16).padStart(2, '0')}'`;
  // Other controls, format characters and non-ASCII spaces look like nothing or like a space.
  if (code > 0x7f && INVISIBLE.test(ch)) {
    const hex = code.toString(16);
    return code > 0xffff ? `'\\u{${hex}}'` : `'\\u${hex.padStart(4, '0')}'`;
  }
  return `'${ch}'`;
}

function listOf(items: readonly string[]): string {
  if (items.length === 0) return 'nothing';
  if (items.length === 1) return items[0]!;
  return `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}
