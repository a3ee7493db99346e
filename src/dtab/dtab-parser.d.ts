// Types of the parser Peggy generates from grammar/dtab.peggy (dist/src/dtab/dtab-parser.js).
export type RawPath = string[];
/** A prefix element: a label, or null for `*`. */
export type RawPrefix = (string | null)[];
export type RawTree =
  | { kind: 'leaf'; value: RawPath }
  | { kind: 'alt'; trees: RawTree[] }
  | { kind: 'union'; trees: { weight: number; tree: RawTree }[] }
  | { kind: 'neg' }
  | { kind: 'fail' }
  | { kind: 'empty' };
export interface RawDentry {
  prefix: RawPrefix;
  dst: RawTree;
}

export interface PeggyLocation {
  offset: number;
  line: number;
  column: number;
}
export type PeggyExpectation =
  | { type: 'literal'; text: string; ignoreCase: boolean }
  | { type: 'class'; parts: unknown[]; inverted: boolean; ignoreCase: boolean }
  | { type: 'any' }
  | { type: 'end' }
  | { type: 'other'; description: string };

export class SyntaxError extends Error {
  expected: PeggyExpectation[] | null;
  found: string | null;
  location: { start: PeggyLocation; end: PeggyLocation };
}

export type StartRule = 'PathAll' | 'PrefixAll' | 'NameTreeAll' | 'DentryAll' | 'DtabAll';

export function parse(input: string, options: { startRule: 'PathAll' }): RawPath;
export function parse(input: string, options: { startRule: 'PrefixAll' }): RawPrefix;
export function parse(input: string, options: { startRule: 'NameTreeAll' }): RawTree;
export function parse(input: string, options: { startRule: 'DentryAll' }): RawDentry;
export function parse(input: string, options: { startRule: 'DtabAll' }): RawDentry[];
