import { DEFAULT_WEIGHT, type NameTree } from './nametree.js';
import type { Path } from './path.js';

/**
 * Finagle's canonical `NameTree.show`: Alt children joined by ` | `, Union children by ` & `,
 * a weight other than 1 as `0.50*` (two decimals, no spaces), parentheses only where the
 * precedence needs them (an Alt below an Alt or a Union, a Union below a Union), single-child
 * Alt/Union shown as their child. `parse(show(t))` gives back `t` for every parsed tree.
 */
export function showNameTree(tree: NameTree<Path>): string {
  return showTree(tree, (p) => p.show());
}

/**
 * The same form with every weight at full precision (`encodeWeight`): what a tree is keyed by
 * and sent to other routers as. `showNameTree` rounds weights to two decimals, as Finagle displays
 * them; keyed or forwarded in that form, `0.004 * /a & 0 * /b` and `0 * /a & 0.004 * /b` were one
 * tree, and `0.999 * /stable & 0.001 * /canary` reached the next router as `1.00 * /stable & 0.00 * /canary`.
 * `parseNameTree(encodeNameTree(t))` gives back `t`, weights included, for every parsed tree.
 */
export function encodeNameTree(tree: NameTree<Path>): string {
  return showTree(tree, (p) => p.show(), encodeWeight);
}

/** The same, for trees of any leaf type, given how to show a leaf (and a weight: `formatWeight` unless told). */
export function showTree<T>(tree: NameTree<T>, showLeaf: (value: T) => string, showWeight: (w: number) => string = formatWeight): string {
  const single = unwrapSingle(tree);
  if (single.kind === 'alt') return single.trees.map((t) => show1(t, showLeaf, showWeight)).join(' | ');
  return show1(single, showLeaf, showWeight);
}

function show1<T>(tree: NameTree<T>, showLeaf: (value: T) => string, showWeight: (w: number) => string): string {
  const t = unwrapSingle(tree);
  if (t.kind === 'union') {
    return t.trees
      .map((w) => (w.weight === DEFAULT_WEIGHT ? '' : `${showWeight(w.weight)}*`) + showSimple(w.tree, showLeaf, showWeight))
      .join(' & ');
  }
  if (t.kind === 'alt') return `(${showTree(t, showLeaf, showWeight)})`;
  return showSimple(t, showLeaf, showWeight);
}

function showSimple<T>(tree: NameTree<T>, showLeaf: (value: T) => string, showWeight: (w: number) => string): string {
  const t = unwrapSingle(tree);
  switch (t.kind) {
    case 'union':
    case 'alt':
      return `(${showTree(t, showLeaf, showWeight)})`;
    case 'leaf':
      return showLeaf(t.value);
    case 'fail':
      return '!';
    case 'neg':
      return '~';
    case 'empty':
      return '$';
  }
}

function unwrapSingle<T>(tree: NameTree<T>): NameTree<T> {
  let t = tree;
  for (;;) {
    if (t.kind === 'alt' && t.trees.length === 1) t = t.trees[0]!;
    else if (t.kind === 'union' && t.trees.length === 1) t = t.trees[0]!.tree;
    else return t;
  }
}

/**
 * Java's `String.format("%.2f", w)`: the shortest decimal form of the double, rounded half-up to
 * two decimals (so 1.005 shows as `1.01`, as Finagle prints it, not `1.00` as `toFixed` would).
 */
export function formatWeight(w: number): string {
  if (Number.isNaN(w)) return 'NaN';
  if (!Number.isFinite(w)) return w > 0 ? 'Infinity' : '-Infinity';
  const negative = w < 0 || Object.is(w, -0);
  let [int, frac] = plainDecimal(Math.abs(w));
  if (frac.length > 2) {
    const roundUp = frac.charCodeAt(2) >= 53; // '5'
    frac = frac.slice(0, 2);
    if (roundUp) {
      const digits = (int + frac).split('').map(Number);
      let i = digits.length - 1;
      while (i >= 0 && digits[i] === 9) digits[i--] = 0;
      if (i >= 0) digits[i]! += 1;
      else digits.unshift(1);
      const all = digits.join('');
      int = all.slice(0, all.length - 2);
      frac = all.slice(all.length - 2);
    }
  }
  frac = frac.padEnd(2, '0');
  return `${negative ? '-' : ''}${int.replace(/^0+(?=\d)/, '')}.${frac}`;
}

/**
 * A weight at full precision, in the dtab grammar's form (digits and one `.`, no exponent): the
 * shortest decimal that reads back as the same double (JavaScript's own `String(w)`, written out
 * without an exponent: `1e-7` as `0.0000001`). A weight too large for a double (parsed from 309+
 * digits) is Infinity, written as digits that read back as Infinity.
 */
export function encodeWeight(w: number): string {
  if (w === Infinity) return '1' + '0'.repeat(309);
  // Not from the grammar (it has no sign and no NaN): shown as JavaScript shows them.
  if (!Number.isFinite(w) || w < 0 || Object.is(w, -0)) return String(w);
  const [int, frac] = plainDecimal(w);
  return frac === '' ? int : `${int}.${frac}`;
}

/** The shortest round-trip decimal of a non-negative finite number as [integer digits, fraction digits]. */
function plainDecimal(x: number): [string, string] {
  const s = String(x);
  const e = s.indexOf('e');
  if (e < 0) {
    const dot = s.indexOf('.');
    return dot < 0 ? [s, ''] : [s.slice(0, dot), s.slice(dot + 1)];
  }
  const mantissa = s.slice(0, e).replace('.', '');
  const dotAt = (s.indexOf('.') < 0 || s.indexOf('.') > e ? 1 : s.indexOf('.')) + Number(s.slice(e + 1));
  if (dotAt <= 0) return ['0', '0'.repeat(-dotAt) + mantissa];
  if (dotAt >= mantissa.length) return [mantissa + '0'.repeat(dotAt - mantissa.length), ''];
  return [mantissa.slice(0, dotAt), mantissa.slice(dotAt)];
}
