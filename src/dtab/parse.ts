import { Dentry, Dtab } from './dtab.js';
import {
  parse as peggyParse,
  SyntaxError as PeggySyntaxError,
  type PeggyExpectation,
  type RawPrefix,
  type RawTree,
} from './dtab-parser.js';
import { DtabSyntaxError, quote } from './errors.js';
import { Empty, Fail, Neg, type NameTree } from './nametree.js';
import { Path } from './path.js';
import { AnyElem, Prefix } from './prefix.js';

export interface ParseOptions {
  /** The file (or config key) the text came from; errors then format as `FILE:LINE:COL: …`. */
  source?: string;
}

/** Parse a dtab: dentries separated by `;` (a trailing `;` allowed), whitespace and `#` comments between tokens. */
export function parseDtab(text: string, options?: ParseOptions): Dtab {
  const raw = guard(text, 'dtab', options, () => peggyParse(text, { startRule: 'DtabAll' }));
  if (raw.length === 0) return Dtab.empty;
  return new Dtab(raw.map((d) => new Dentry(toPrefix(d.prefix), toTree(d.dst))));
}

export function parsePath(text: string, options?: ParseOptions): Path {
  const segments = guard(text, 'path', options, () => peggyParse(text, { startRule: 'PathAll' }));
  return segments.length === 0 ? Path.empty : new Path(segments);
}

export function parseNameTree(text: string, options?: ParseOptions): NameTree<Path> {
  return toTree(guard(text, 'name tree', options, () => peggyParse(text, { startRule: 'NameTreeAll' })));
}

export function parseDentry(text: string, options?: ParseOptions): Dentry {
  const d = guard(text, 'dentry', options, () => peggyParse(text, { startRule: 'DentryAll' }));
  return new Dentry(toPrefix(d.prefix), toTree(d.dst));
}

export function parsePrefix(text: string, options?: ParseOptions): Prefix {
  return toPrefix(guard(text, 'prefix', options, () => peggyParse(text, { startRule: 'PrefixAll' })));
}

function toPrefix(raw: RawPrefix): Prefix {
  return raw.length === 0 ? Prefix.empty : new Prefix(raw.map((e) => (e === null ? AnyElem : e)));
}

function toTree(raw: RawTree): NameTree<Path> {
  switch (raw.kind) {
    case 'leaf':
      return { kind: 'leaf', value: raw.value.length === 0 ? Path.empty : new Path(raw.value) };
    case 'alt':
      return { kind: 'alt', trees: raw.trees.map(toTree) };
    case 'union':
      return { kind: 'union', trees: raw.trees.map((w) => ({ weight: w.weight, tree: toTree(w.tree) })) };
    case 'neg':
      return Neg;
    case 'fail':
      return Fail;
    case 'empty':
      return Empty;
  }
}

/** Run the generated parser, turning its SyntaxError into a DtabSyntaxError (never Peggy's own). */
function guard<T>(text: string, what: string, options: ParseOptions | undefined, parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    if (e instanceof PeggySyntaxError) throw toDtabError(e, text, what, options?.source);
    if (e instanceof RangeError) throw tooDeep(text, what, options?.source);
    throw e;
  }
}

// The grammar's own names for what it wants, in the order a reader expects them.
const ORDER = ['label char', 'hex char', 'weight', "'('", "'/'", "'*'", "'!'", "'~'", "'$'", "'=>'", "'&'", "'|'", "')'", "';'"];

function toDtabError(e: PeggySyntaxError, text: string, what: string, source: string | undefined): DtabSyntaxError {
  const { offset, line, column } = e.location.start;
  const expected = new Set<string>();
  for (const x of e.expected ?? []) {
    const phrase = describe(x);
    if (phrase !== undefined) expected.add(phrase);
  }
  // A label may also start with an escape; saying "label char" covers it.
  if (expected.has('label char')) expected.delete("'\\'");
  const list = [...expected].sort((a, b) => rank(a) - rank(b));
  const found = offset < text.length ? String.fromCodePoint(text.codePointAt(offset)!) : null;
  return new DtabSyntaxError(what, offset, line, column, list, found, excerpt(text, offset), source);
}

/** The parser ran out of stack: point at the parenthesis that nests too deep. */
function tooDeep(text: string, what: string, source: string | undefined): DtabSyntaxError {
  let depth = 0;
  let offset = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(' && ++depth > MAX_NESTING) {
      offset = i;
      break;
    }
    if (c === ')') depth--;
  }
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - (before.lastIndexOf('\n') + 1) + 1;
  const expected = [`a tree nested at most ${MAX_NESTING} deep`];
  return new DtabSyntaxError(what, offset, line, column, expected, text[offset] ?? null, excerpt(text, offset), source);
}

const MAX_NESTING = 500;

function describe(x: PeggyExpectation): string | undefined {
  switch (x.type) {
    case 'literal':
      return quote(x.text).replace(/^'\\\\'$/, "'\\'");
    case 'end':
      return 'end of input';
    case 'other':
      return x.description === 'whitespace' ? undefined : x.description;
    case 'any':
      return 'any character';
    case 'class':
      return 'character';
  }
}

function rank(phrase: string): number {
  const i = ORDER.indexOf(phrase);
  return i < 0 ? (phrase === 'end of input' ? 1000 : 500) : i;
}

/** Characters of context kept on each side of the offending one when its line is long. */
const CONTEXT = 60;

/**
 * The offending line with the offending character bracketed (`[]` at the end of the line or
 * input). A long line (a one-line l5d-dtab, a generated dtab) is cut to a window around it, `…`
 * marking what was left out.
 */
function excerpt(text: string, offset: number): string {
  const start = text.lastIndexOf('\n', offset - 1) + 1;
  let end = text.indexOf('\n', offset);
  if (end < 0) end = text.length;
  const line = text.slice(start, end).replace(/\r$/, '');
  const at = offset - start;
  const ch = at >= line.length ? '' : String.fromCodePoint(line.codePointAt(at)!);
  const from = Math.max(0, at - CONTEXT);
  const to = Math.min(line.length, at + ch.length + CONTEXT);
  const before = (from > 0 ? '…' : '') + line.slice(from, at);
  const after = line.slice(at + ch.length, to) + (to < line.length ? '…' : '');
  return `${before}[${ch}]${after}`;
}
