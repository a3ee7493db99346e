import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AnyElem,
  Dentry,
  Dtab,
  DtabSyntaxError,
  Empty,
  Fail,
  Neg,
  Path,
  Prefix,
  alt,
  parseDentry,
  parseDtab,
  parseNameTree,
  parsePath,
  parsePrefix,
  union,
  weighted,
} from '../../src/dtab/index.js';
import { assertTree, l } from './trees.js';

const p = (...s: string[]) => Path.of(...s);

function syntaxError(f: () => unknown): DtabSyntaxError {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof DtabSyntaxError, `expected a DtabSyntaxError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a syntax error');
}

// Finagle NameTreeParsersTest "parsePath".
test('parsePath: Finagle vectors', () => {
  assert.ok(parsePath('/').equals(Path.empty));
  assert.ok(parsePath('  /foo/bar  ').equals(p('foo', 'bar')));
  assert.ok(parsePath('/\\x66\\x6f\\x6F').equals(p('foo')));
  for (const bad of ['', '/foo/bar/', '/{}', '/\\?', '/\\x?', '/\\x0?']) syntaxError(() => parsePath(bad));
});

test('parsePath: label chars, escapes to bytes, # is a label char inside a path', () => {
  assert.deepEqual(parsePath('/09AZaz_:.#$%-').segments, ['09AZaz_:.#$%-']);
  assert.deepEqual(parsePath('/a\\x20b/\\xff').segments, ['a b', '\xff']);
  assert.deepEqual(parsePath('/#/io.l5d.k8s').segments, ['#', 'io.l5d.k8s']);
  assert.deepEqual(parsePath('/#foo').segments, ['#foo']);
  assert.deepEqual(parsePath('/foo #c').segments, ['foo']);
  assert.deepEqual(parsePath('# leading comment\n/foo # trailing').segments, ['foo']);
  for (const bad of ['//', '/a//b', '/a@b', '/a+b', '/a~', '/a*', '/ü', 'foo', '/a b']) syntaxError(() => parsePath(bad));
});

// Finagle NameTreeParsersTest "error messages".
test('errors: position, expected, found and a Finagle-style excerpt', () => {
  const e1 = syntaxError(() => parsePath('/foo^bar'));
  assert.equal(e1.excerpt, '/foo[^]bar');
  assert.equal(e1.offset, 4);
  assert.equal(e1.line, 1);
  assert.equal(e1.column, 5);
  assert.equal(e1.found, '^');
  const e2 = syntaxError(() => parsePath('/foo/bar/'));
  assert.equal(e2.excerpt, '/foo/bar/[]');
  assert.equal(e2.found, null);
  assert.deepEqual(e2.expected, ['label char']);
  assert.equal(e2.message, 'path line 1, column 10: expected label char but found end of input');

  const text = '/a => /b;\n/c => /d;\n/boo =  /foo bar';
  const e3 = syntaxError(() => parseDtab(text, { source: 'router.dtab' }));
  assert.equal(e3.line, 3);
  assert.equal(e3.column, 6);
  assert.equal(e3.message, "dtab line 3, column 6: expected '=>' but found '='");
  assert.equal(e3.excerpt, '/boo [=]  /foo bar');
  assert.equal(e3.source, 'router.dtab');
  assert.equal(e3.format(), "router.dtab:3:6: expected '=>' but found '='");
  assert.ok(!/peg|SyntaxError/i.test(e3.message));

  const e4 = syntaxError(() => parseDtab('/boo => /foo b'));
  assert.equal(e4.message, "dtab line 1, column 14: expected '&', '|', ';' or end of input but found 'b'");
  assert.equal(e4.format('x.dtab'), "x.dtab:1:14: expected '&', '|', ';' or end of input but found 'b'");

  const e5 = syntaxError(() => parsePath('/\\x0?'));
  assert.equal(e5.column, 5);
  assert.deepEqual(e5.expected, ['hex char']);
  const e6 = syntaxError(() => parseDentry('/a = > /b'));
  assert.deepEqual(e6.expected, ["'=>'"]);
  assert.equal(e6.found, '=');
  assert.equal(e6.column, 4);
});

// Finagle NameTreeParsersTest "parseNameTree".
test('parseNameTree: Finagle vectors', () => {
  assertTree(parseNameTree('! | ~ | $'), alt<Path>(Fail, Neg, Empty));
  assertTree(parseNameTree('/foo/bar'), l('foo', 'bar'));
  assertTree(parseNameTree('  /foo & /bar  '), union(weighted(1, l('foo')), weighted(1, l('bar'))));
  assertTree(parseNameTree('  /foo | /bar  '), alt(l('foo'), l('bar')));
  assertTree(
    parseNameTree('/foo & /bar | /bar & /baz'),
    alt(union(weighted(1, l('foo')), weighted(1, l('bar'))), union(weighted(1, l('bar')), weighted(1, l('baz')))),
  );
  assertTree(
    parseNameTree('1 * /foo & 2 * /bar | .5 * /bar & .5 * /baz'),
    alt(union(weighted(1, l('foo')), weighted(2, l('bar'))), union(weighted(0.5, l('bar')), weighted(0.5, l('baz')))),
  );
  for (const bad of ['', '#', '/foo &', '/foo & 0.1.2 * /bar', '/foo & . * /bar']) syntaxError(() => parseNameTree(bad));
});

test('parseNameTree: weights, parentheses, precedence, comments', () => {
  assertTree(parseNameTree('5. * /a & 0*/b & 0.25*/c'), union(weighted(5, l('a')), weighted(0, l('b')), weighted(0.25, l('c'))));
  // A weight on a lone tree is dropped, as in Finagle.
  assertTree(parseNameTree('0.5 * /a'), l('a'));
  assertTree(parseNameTree('(/a | /b) & /c'), union(weighted(1, alt(l('a'), l('b'))), weighted(1, l('c'))));
  assertTree(parseNameTree('/a | (/b | /c)'), alt(l('a'), alt(l('b'), l('c'))));
  assertTree(parseNameTree('((/a))'), l('a'));
  assertTree(parseNameTree('/a # one\n | # two\n /b'), alt(l('a'), l('b')));
  for (const bad of ['-1 * /a', '+1 * /a', '1e3 * /a', '1 /a', '(/a', '/a)', '/a | ', '| /a', '/a & & /b', '1 * 2 * /a']) {
    syntaxError(() => parseNameTree(bad));
  }
});

// Finagle NameTreeParsersTest "parseDentry".
test('parseDentry: Finagle vectors', () => {
  const d1 = parseDentry('/=>!');
  assert.ok(d1.prefix.equals(Prefix.empty));
  assert.equal(d1.dst, Fail);
  assert.ok(parseDentry('/ => !').equals(new Dentry(Prefix.empty, Fail)));
  assert.ok(parseDentry('/foo/*/bar => !').equals(new Dentry(Prefix.of('foo', AnyElem, 'bar'), Fail)));
  assert.ok(parseDentry('/foo/bar/baz => !').equals(new Dentry(Prefix.of('foo', 'bar', 'baz'), Fail)));
  syntaxError(() => parseDentry('/foo/*bar/baz => !'));
  syntaxError(() => parseDentry('/&!'));
  syntaxError(() => parseDentry('/a = > /b'));
  syntaxError(() => parseDentry('/a =>'));
});

// Finagle NameTreeParsers.parseDentryPrefix begins with eatWhitespace(), so Dentry.read accepts
// leading whitespace and comments exactly as Path.read, NameTree.read and Dtab.read do.
test('parseDentry: leading whitespace and comments, like every other start rule', () => {
  const want = new Dentry(Prefix.of('a'), parseNameTree('/b'));
  assert.ok(parseDentry('  /a=>/b').equals(want));
  assert.ok(parseDentry('\t\r\n# why\n/a => /b  # trailing\n').equals(want));
});

test('parsePrefix: * is a whole element', () => {
  assert.ok(parsePrefix('/*').equals(Prefix.of(AnyElem)));
  assert.ok(parsePrefix('/a/*/b').equals(Prefix.of('a', AnyElem, 'b')));
  assert.ok(parsePrefix('/').equals(Prefix.empty));
  syntaxError(() => parsePrefix('/foo*'));
  syntaxError(() => parsePrefix('/*foo'));
  syntaxError(() => parsePrefix('/**'));
});

// Finagle NameTreeParsersTest "parseDtab".
test('parseDtab: Finagle vectors, trailing ;, ;; is an error', () => {
  assert.equal(parseDtab(''), Dtab.empty);
  assert.equal(parseDtab('  # only a comment\n  '), Dtab.empty);
  assert.ok(parseDtab('  /=>!  ').equals(Dtab.of(new Dentry(Prefix.empty, Fail))));
  assert.ok(parseDtab('/=>!;').equals(Dtab.of(new Dentry(Prefix.empty, Fail))));
  assert.ok(
    parseDtab('/=>!;/foo=>/bar').equals(Dtab.of(new Dentry(Prefix.empty, Fail), new Dentry(Prefix.of('foo'), l('bar')))),
  );
  const e = syntaxError(() => parseDtab('/a=>/b;;'));
  assert.equal(e.column, 8);
  assert.equal(e.found, ';');
  syntaxError(() => parseDtab(';'));
  syntaxError(() => parseDtab('/a=>/b;;/c=>/d'));
  syntaxError(() => parseDtab('/a=>/b /c=>/d'));
});

test('parseDtab: comments only where whitespace may stand', () => {
  const dtab = parseDtab(`
    # the gRPC services
    /svc => /#/io.l5d.k8s/default/grpc ; # k8s
    /#/io.l5d.k8s/default => /#foo#bar # a comment after a label with #s
    ;
  `);
  assert.equal(dtab.show(), '/svc=>/#/io.l5d.k8s/default/grpc;/#/io.l5d.k8s/default=>/#foo#bar');
});

test('whitespace is Java whitespace: tabs, CR, form feed, Unicode spaces; not no-break spaces', () => {
  assert.equal(parseDtab('\t/a\r\n=>\f/b\u2003;\u3000').show(), '/a=>/b');
  syntaxError(() => parseDtab('/a =>\u00a0/b'));
  syntaxError(() => parseDtab('/a =>\u202f/b'));
});

test('the excerpt of a very long line is a window around the offending character', () => {
  // An l5d-dtab header or a generated dtab can be one long line; the error must stay readable.
  const long = Array.from({ length: 300 }, (_, i) => `/s${i}=>/t${i}`).join(';');
  const e = syntaxError(() => parseDtab(`${long};/x => /y z;${long}`));
  assert.ok(e.excerpt.length <= 130, `${e.excerpt.length} chars`);
  assert.match(e.excerpt, /^….*\/x => \/y \[z\];\/s0=>.*…$/);
  const atEnd = syntaxError(() => parseDtab(`${long};/x =>`));
  assert.match(atEnd.excerpt, /^….*\/x =>\[\]$/);
  assert.ok(atEnd.excerpt.length <= 130);
  // Short lines are shown whole, as Finagle shows them.
  assert.equal(syntaxError(() => parseDtab('/a => /b c')).excerpt, '/a => /b [c]');
});

test('an invisible offending character is named by its code point, not printed raw', () => {
  // A no-break space pasted from a web page looks like a space; the error must say what it is.
  assert.match(syntaxError(() => parseDtab('/a =>\u00a0/b')).message, /found '\\u00a0'$/);
  assert.match(syntaxError(() => parseDtab('\ufeff/a => /b')).message, /found '\\ufeff'$/);
  assert.match(syntaxError(() => parseDtab('/a\u0085=> /b')).message, /found '\\u0085'$/);
  assert.match(syntaxError(() => parseDtab('/a\u200b=> /b')).message, /found '\\u200b'$/);
  // Visible characters stay as they are.
  assert.match(syntaxError(() => parseDtab('/a => /b é')).message, /found 'é'$/);
});

test('absurdly deep nesting is a syntax error, not a crash', () => {
  assert.equal(showNameTreeOf('('.repeat(300) + '/a' + ')'.repeat(300)), '/a');
  const e = syntaxError(() => parseNameTree('('.repeat(20000) + '/a' + ')'.repeat(20000)));
  assert.equal(e.column, 501);
  assert.deepEqual(e.expected, ['a tree nested at most 500 deep']);
  assert.equal(e.found, '(');
});

function showNameTreeOf(text: string): string {
  const t = parseNameTree(text);
  return t.kind === 'leaf' ? t.value.show() : t.kind;
}
