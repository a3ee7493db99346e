import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  AnyElem,
  Dentry,
  Dtab,
  Empty,
  Fail,
  Neg,
  Path,
  Prefix,
  alt,
  evaluate,
  encodeNameTree,
  encodeWeight,
  formatWeight,
  leaf,
  mapTree,
  parseDentry,
  parseDtab,
  parseNameTree,
  parsePath,
  parsePrefix,
  showNameTree,
  simplify,
  union,
  weighted,
  type NameTree,
} from '../../src/dtab/index.js';
import { assertTree, l, sameTree } from './trees.js';


test('show: Finagle canonical form', () => {
  assert.equal(showNameTree(parseNameTree('/s  |  ( /b & /c )')), '/s | /b & /c');
  assert.equal(parseDentry('/s => /a | (/b & /c);'.slice(0, -1)).show(), '/s=>/a | /b & /c');
  assert.equal(showNameTree(parseNameTree('0.5*/a & 1*/b & 2 * /c')), '0.50*/a & /b & 2.00*/c');
  assert.equal(showNameTree(parseNameTree('(/a | /b) & /c')), '(/a | /b) & /c');
  assert.equal(showNameTree(parseNameTree('/a | (/b | /c)')), '/a | (/b | /c)');
  assert.equal(showNameTree(parseNameTree('(/a & /b) & /c')), '(/a & /b) & /c');
  assert.equal(showNameTree(parseNameTree('.25 * (/a | /b) & $')), '0.25*(/a | /b) & $');
  assert.equal(showNameTree(parseNameTree('! | ~ | $')), '! | ~ | $');
  // Single-child Alt/Union (only built in code) show as their child.
  assert.equal(showNameTree(alt(union(weighted(0.5, l('a'))))), '/a');
  assert.equal(showNameTree(union(weighted(1, alt(l('a'), l('b'))), weighted(1, l('c')))), '(/a | /b) & /c');
  assert.equal(Path.of('a b', 'ok').show(), '/\\x61\\x20\\x62/ok');
  assert.equal(parsePath('/\\x66\\x6f\\x6F').show(), '/foo');
  assert.equal(parsePrefix('/a/*/\\x20').show(), '/a/*/\\x20');
  assert.equal(parsePrefix('/').show(), '/');
  assert.equal(new Dentry(Prefix.of('foo', AnyElem), l('x')).show(), '/foo/*=>/x');
  assert.equal(parseDtab('/a => /b ; /c => /d | /e ;').show(), '/a=>/b;/c=>/d | /e');
  assert.equal(Dtab.empty.show(), '');
});

test('formatWeight: Java %.2f (half-up on the shortest decimal)', () => {
  assert.equal(formatWeight(0.5), '0.50');
  assert.equal(formatWeight(2), '2.00');
  assert.equal(formatWeight(0), '0.00');
  assert.equal(formatWeight(1.005), '1.01');
  assert.equal(formatWeight(0.125), '0.13');
  assert.equal(formatWeight(0.994), '0.99');
  assert.equal(formatWeight(9.995), '10.00');
  assert.equal(formatWeight(123456.789), '123456.79');
  assert.equal(formatWeight(1e21), '1000000000000000000000.00');
  assert.equal(formatWeight(1e-7), '0.00');
});

// Arbitrary trees of the shapes the parser produces: Alt/Union with 2+ children, weights with at
// most two decimals (show prints two), any bytes in segments.
const segment = fc.oneof(
  fc.stringMatching(/^[0-9A-Za-z_:.#$%-]{1,8}$/),
  fc.uint8Array({ minLength: 1, maxLength: 4 }).map((bytes) => String.fromCharCode(...bytes)),
);
const path = fc.array(segment, { maxLength: 4 }).map((s) => new Path(s));
const weight = fc.oneof(fc.constant(1), fc.integer({ min: 0, max: 100000 }).map((n) => n / 100));
const tree: fc.Arbitrary<NameTree<Path>> = fc.letrec<{ tree: NameTree<Path> }>((tie) => ({
  tree: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    path.map((p) => leaf(p) as NameTree<Path>),
    fc.constantFrom<NameTree<Path>>(Neg, Fail, Empty),
    fc.array(tie('tree'), { minLength: 2, maxLength: 3 }).map((ts) => alt(...ts) as NameTree<Path>),
    fc
      .array(fc.tuple(weight, tie('tree')), { minLength: 2, maxLength: 3 })
      .map((ws) => union(...ws.map(([w, t]) => weighted(w, t))) as NameTree<Path>),
  ),
})).tree;
const prefix = fc
  .array(fc.oneof(segment, fc.constant(AnyElem)), { maxLength: 4 })
  .map((elems) => new Prefix(elems));
const dtab = fc.array(fc.tuple(prefix, tree), { maxLength: 5 }).map((ds) => new Dtab(ds.map(([p, t]) => new Dentry(p, t))));

test('property: parseNameTree(showNameTree(t)) equals t', () => {
  fc.assert(
    fc.property(tree, (t) => sameTree(parseNameTree(showNameTree(t)), t)),
    { numRuns: 500 },
  );
});

test('property: parseDtab(dtab.show()) equals the dtab; parsePath(path.show()) equals the path', () => {
  fc.assert(fc.property(dtab, (d) => parseDtab(d.show()).equals(d)), { numRuns: 300 });
  fc.assert(fc.property(path, (p) => parsePath(p.show()).equals(p)), { numRuns: 300 });
});

test('encodeWeight / Dtab.encode: full precision in the grammar’s form (keys, forwarded headers); show keeps two decimals', () => {
  assert.equal(encodeWeight(0.5), '0.5');
  assert.equal(encodeWeight(0.999), '0.999');
  assert.equal(encodeWeight(0.001), '0.001');
  assert.equal(encodeWeight(1.0000001), '1.0000001');
  assert.equal(encodeWeight(2), '2');
  assert.equal(encodeWeight(0), '0');
  assert.equal(encodeWeight(1e-7), '0.0000001');
  assert.equal(encodeWeight(1.5e-300), '0.' + '0'.repeat(299) + '15');
  assert.equal(encodeWeight(1e21), '1000000000000000000000');
  assert.equal(Number(encodeWeight(Infinity)), Infinity);
  const d = parseDtab('/svc/x => 0.999 * /stable & .001 * /canary; /svc/y => 0.004*/a & 0*/b');
  assert.equal(d.show(), '/svc/x=>1.00*/stable & 0.00*/canary;/svc/y=>0.00*/a & 0.00*/b', 'display unchanged');
  assert.equal(d.encode(), '/svc/x=>0.999*/stable & 0.001*/canary;/svc/y=>0.004*/a & 0*/b');
  assert.ok(parseDtab(d.encode()).equals(d));
  assert.equal(encodeNameTree(parseNameTree('1*/a & 1.00*/b')), '/a & /b');
});

const anyWeight = fc.oneof(fc.constant(1), fc.double({ min: 0, max: 1e300, noNaN: true }), fc.integer({ min: 0, max: 10 ** 9 }).map((n) => n / 10 ** 7));

test('property: parseNameTree(encodeNameTree(t)) equals t for any non-negative weights, and parseDtab(d.encode()) equals d', () => {
  const weightedTree = fc
    .array(fc.tuple(anyWeight, path), { minLength: 2, maxLength: 4 })
    .map((ws) => union(...ws.map(([w, p]) => weighted(w, leaf(p)))) as NameTree<Path>);
  fc.assert(
    fc.property(weightedTree, (t) => {
      const back = parseNameTree(encodeNameTree(t));
      return sameTree(back, t) && back.kind === 'union' && t.kind === 'union' && back.trees.every((w, i) => Object.is(w.weight, t.trees[i]!.weight) || (w.weight === 0 && t.trees[i]!.weight === 0));
    }),
    { numRuns: 500 },
  );
  fc.assert(fc.property(dtab, (d) => parseDtab(d.encode()).equals(d)), { numRuns: 300 });
});

test('property: simplify is a fixpoint and keeps eval', () => {
  const strs = (t: NameTree<Path>) => mapTree(t, (p) => p.show());
  fc.assert(
    fc.property(tree, (t) => {
      const s = simplify(t);
      assert.ok(sameTree(simplify(s), s));
      assert.deepEqual(evaluate(strs(s)), evaluate(strs(t)));
    }),
    { numRuns: 300 },
  );
});

// Finagle NameTreeTest "NameTree.eval/simplified".
test('eval and simplified eval: Finagle vectors', () => {
  const cases: [string, string[] | undefined][] = [
    ['~', undefined],
    ['/ok', ['/ok']],
    ['/ok & /ok1', ['/ok', '/ok1']],
    ['/ok & ~ & /blah & $', ['/ok', '/blah']],
    ['$ & $ & $', []],
    ['~ & ~ & (~ | ~)', undefined],
    ['~ | /foo | /bar', ['/foo']],
    ['~ | $ | /blah', []],
    ['~ | (~ | $) | /blah', []],
    ['(~|$|/foo) & (/bar|/blah) & ~ & /FOO', ['/bar', '/FOO']],
    ['! | /ok', undefined],
    ['/ok & !', ['/ok']],
    ['! & ! & !', undefined],
    ['~ | /ok | !', ['/ok']],
  ];
  for (const [text, expected] of cases) {
    const t = mapTree(parseNameTree(text), (p) => p.show());
    const want = expected === undefined ? undefined : new Set(expected);
    assert.deepEqual(evaluate(t), want, text);
    assert.deepEqual(evaluate(simplify(t)), want, `simplified ${text}`);
  }
});

test('simplify: Finagle rules', () => {
  const s = (text: string) => showNameTree(simplify(parseNameTree(text)));
  assert.equal(showNameTree(simplify(alt())), '~');
  assert.equal(showNameTree(simplify(union())), '~');
  assert.equal(s('~ | /a | ~ | $ | /b'), '/a | $ | /b');
  assert.equal(s('/a | ! | /b'), '/a | !');
  assert.equal(s('~ | !'), '!');
  assert.equal(s('0.5*/a & ! & ~ & 2*/b'), '0.50*/a & 2.00*/b');
  assert.equal(s('0.5*/a & ! & ~'), '/a');
  assert.equal(s('! & ~'), '~');
  assert.equal(s('$ & /a'), '$ & /a');
  assert.equal(s('/a | (/b | ~)'), '/a | /b');
  assert.equal(s('/a | (/b | /c)'), '/a | (/b | /c)');
  assert.equal(parseDtab('/a=>~ | ~;/b=>/c;/d=>! & ~').simplified().show(), '/b=>/c');
});

test('lookup: later dentries first, residual appended, Alt of all matches (not flattened), Neg when none', () => {
  const d = parseDtab('/a => /x | /y; /a/b => /z; /* => /any; /c => /w');
  const show = (p: string) => showNameTree(mapTree(d.lookup(parsePath(p)), (n) => (n.kind === 'path' ? n.path : n.id)));
  assert.equal(show('/a/b/c'), '/any/b/c | /z/c | (/x/b/c | /y/b/c)');
  assert.equal(show('/c'), '/w | /any');
  assert.equal(show('/q/r'), '/any/r');
  assert.equal(d.lookup(Path.empty), Neg);
  assert.equal(parseDtab('/foo => /bar').lookup(parsePath('/foobar')), Neg);
  assert.equal(Dtab.empty.lookup(parsePath('/a')), Neg);
  const one = parseDtab('/svc => /#/io.l5d.k8s/default/grpc').lookup(parsePath('/svc/echo'));
  assert.ok(one.kind === 'leaf' && one.value.kind === 'path');
  assert.equal(one.value.path.show(), '/#/io.l5d.k8s/default/grpc/echo');
  const empty = parseDtab('/ => /root').lookup(parsePath('/a'));
  assert.ok(empty.kind === 'leaf' && empty.value.kind === 'path' && empty.value.path.show() === '/root/a');
});

test('concat keeps order and identity of empty sides', () => {
  const a = parseDtab('/a=>/b');
  const b = parseDtab('/c=>/d');
  assert.equal(a.concat(Dtab.empty), a);
  assert.equal(Dtab.empty.concat(b), b);
  assert.equal(a.concat(b).show(), '/a=>/b;/c=>/d');
  assertTree(parseNameTree('/a'), l('a'));
});
