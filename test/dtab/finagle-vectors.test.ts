// Finagle's NamerTest, DtabTest and NameTreeTest vectors, ported to our interpreter.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Dtab,
  NameInterpreter,
  evaluate,
  mapTree,
  parseDentry,
  parseDtab,
  parseNameTree,
  parsePath,
  type BoundName,
  type NameTree,
} from '../../src/dtab/index.js';
import { failed, ok, type Activity, type ActivityState } from '../../src/util/activity.js';
import { FakeNamer } from '../support/fake-namer.js';
import { globalNamer } from '../../src/namers/global.js';

const TEST = parsePath('/test');

/** The namer answers `/test/<n>` with a name tree of paths, bound again through the interpreter. */
function answer(namer: FakeNamer, name: string, tree: string): void {
  namer.set(name, ok(mapTree(parseNameTree(tree), (path) => ({ kind: 'path' as const, path }))));
}

function setup(tree: string) {
  const namer = new FakeNamer(TEST, { status: 'pending' });
  const i = new NameInterpreter({ global: globalNamer(), namers: [{ prefix: TEST, kind: 'test', namer }] });
  const act = i.bind(parseDtab(`/u => ${tree}`), parsePath('/u'));
  let state: ActivityState<NameTree<BoundName>> = { status: 'pending' };
  const obs = act.observe((s) => (state = s));
  return { namer, state: () => state, close: () => obs.close(), act };
}

/** The bound ids a tree evaluates to (Finagle's `eval`), or undefined for Neg/Fail. */
function ids(state: ActivityState<NameTree<BoundName>>): string[] | undefined {
  assert.equal(state.status, 'ok', state.status === 'failed' ? state.error.message : state.status);
  const tree = (state as { value: NameTree<BoundName> }).value;
  const set = evaluate(mapTree(tree, (b) => b.id.show()));
  return set === undefined ? undefined : [...set].sort();
}

test('NamerTest "NameTree.bind: union"', () => {
  const { namer, state, close } = setup('/test/0 & /test/1');
  assert.equal(state().status, 'pending');
  answer(namer, '/0', '/test/2');
  assert.equal(state().status, 'pending');
  answer(namer, '/1', '/$/inet/1');
  assert.deepEqual(ids(state()), ['/$/inet/1']);
  namer.set('/1', failed(new Error('exc')));
  assert.equal(state().status, 'failed');
  answer(namer, '/1', '/$/inet/1');
  answer(namer, '/2', '/$/inet/2');
  assert.deepEqual(ids(state()), ['/$/inet/1', '/$/inet/2']);
  answer(namer, '/2', '~');
  assert.deepEqual(ids(state()), ['/$/inet/1']);
  namer.set('/2', failed(new Error('exc')));
  assert.deepEqual(ids(state()), ['/$/inet/1']);
  namer.set('/1', failed(new Error('exc')));
  assert.equal(state().status, 'failed');
  answer(namer, '/1', '~');
  answer(namer, '/2', '~');
  assert.equal(ids(state()), undefined);
  answer(namer, '/1', '$');
  assert.deepEqual(ids(state()), []);
  close();
});

test('NamerTest "NameTree.bind: failover"', () => {
  const { namer, state, close } = setup('/test/0 | /test/1 & /test/2');
  assert.equal(state().status, 'pending');
  answer(namer, '/0', '$');
  answer(namer, '/1', '~');
  answer(namer, '/2', '~');
  assert.deepEqual(ids(state()), []);
  answer(namer, '/0', '/$/inet/1');
  assert.deepEqual(ids(state()), ['/$/inet/1']);
  answer(namer, '/0', '~');
  assert.equal(ids(state()), undefined);
  answer(namer, '/2', '/$/inet/2');
  assert.deepEqual(ids(state()), ['/$/inet/2']);
  answer(namer, '/0', '/$/inet/3');
  assert.deepEqual(ids(state()), ['/$/inet/3']);
  close();
});

test('NamerTest "NameTree.bind: Alt with Fail/Empty"', () => {
  const kinds = (tree: string) => {
    const s = setup(tree);
    const st = s.state();
    s.close();
    return st.status === 'ok' ? st.value.kind : st.status;
  };
  assert.equal(kinds('(! | /test/1 | /test/2)'), 'fail');
  assert.equal(kinds('(~ | /$/fail | /test/1)'), 'fail');
  assert.equal(kinds('(/$/nil | /$/fail | /test/1)'), 'empty');
});

test('NamerTest "Namer.bind: max recursion level reached" (namerMaxDepth 2)', () => {
  const i = new NameInterpreter({ global: globalNamer(), maxDepth: 2 });
  const act: Activity<NameTree<BoundName>> = i.bind(parseDtab('/s => /s/srv'), parsePath('/s/foo/bar'));
  let state: ActivityState<NameTree<BoundName>> | undefined;
  act.observe((s) => (state = s)).close();
  assert.equal(state?.status, 'failed');
  assert.equal(state?.status === 'failed' && state.error.message, 'Max recursion level: 2 reached in Namer lookup');
});

test('NamerTest "Namer.resolve": a local dtab resolves; no dtab is Neg', () => {
  const i = new NameInterpreter({ global: globalNamer() });
  const bind = (dtab: Dtab, path: string) => {
    let state: ActivityState<NameTree<BoundName>> | undefined;
    i.bind(dtab, parsePath(path)).observe((s) => (state = s)).close();
    return state!;
  };
  assert.equal(ids(bind(Dtab.empty, '/s/foo')), undefined);
  assert.deepEqual(ids(bind(parseDtab('/s/foo => /$/inet/5678'), '/s/foo')), ['/$/inet/5678']);
  // Dtab.local takes precedence over what comes before it.
  assert.deepEqual(ids(bind(parseDtab('/s/foo => /$/inet/1234').concat(parseDtab('/s/foo => /$/inet/5678')), '/s/foo')), ['/$/inet/5678']);
});

test('DtabTest: ++, trailing semicolon, dentry read', () => {
  const d1 = parseDtab('/foo => /bar');
  const d2 = parseDtab('/foo=>/biz;/biz=>/$/inet/0/8080;/bar=>/$/inet/0/9090');
  assert.ok(
    d1.concat(d2).equals(
      parseDtab(`
      /foo=>/bar;
      /foo=>/biz;
      /biz=>/$/inet/0/8080;
      /bar=>/$/inet/0/9090
    `),
    ),
  );
  const d3 = parseDtab('/foo=>/bar;/biz=>/baz');
  assert.equal(d3.concat(Dtab.empty), d3);
  assert.equal(parseDtab('\n  /b => /c;\n  /a => /b;\n  ').size, 2);
  assert.equal(d3.append(parseDentry('/foo => /123')).show(), '/foo=>/bar;/biz=>/baz;/foo=>/123');
});
