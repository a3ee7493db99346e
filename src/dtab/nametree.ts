/**
 * Finagle's `NameTree<T>`: the algebra a dtab rewrites names into.
 * Neg = "no such name here, fall through"; Fail = "stop, fail this name"; Empty = "the name
 * exists but has no addresses now". Alt tries children in order; Union splits by weight.
 */
export type NameTree<T> =
  | Leaf<T>
  | Alt<T>
  | Union<T>
  | { readonly kind: 'neg' }
  | { readonly kind: 'fail' }
  | { readonly kind: 'empty' };

export interface Leaf<T> {
  readonly kind: 'leaf';
  readonly value: T;
}

export interface Alt<T> {
  readonly kind: 'alt';
  readonly trees: readonly NameTree<T>[];
}

export interface Weighted<T> {
  readonly weight: number;
  readonly tree: NameTree<T>;
}

export interface Union<T> {
  readonly kind: 'union';
  readonly trees: readonly Weighted<T>[];
}

export const DEFAULT_WEIGHT = 1.0;

export const Neg: NameTree<never> = Object.freeze({ kind: 'neg' });
export const Fail: NameTree<never> = Object.freeze({ kind: 'fail' });
export const Empty: NameTree<never> = Object.freeze({ kind: 'empty' });

export function leaf<T>(value: T): Leaf<T> {
  return { kind: 'leaf', value };
}

export function alt<T>(...trees: NameTree<T>[]): Alt<T> {
  return { kind: 'alt', trees };
}

export function union<T>(...trees: Weighted<T>[]): Union<T> {
  return { kind: 'union', trees };
}

export function weighted<T>(weight: number, tree: NameTree<T>): Weighted<T> {
  return { weight, tree };
}
