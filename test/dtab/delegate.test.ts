import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NameInterpreter, parseDtab, parsePath, type Dtab, type LookupStep, type Path } from '../../src/dtab/index.js';
import { delegate, DelegateLookupsError, DelegateTimeoutError } from '../../src/dtab/delegate.js';
import { FakeNamer } from '../support/fake-namer.js';
import { Var } from '../../src/util/var.js';
import { ok } from '../../src/util/activity.js';
import { leaf } from '../../src/dtab/nametree.js';
import type { Addr } from '../../src/dtab/name.js';
import { globalNamer } from '../../src/namers/global.js';

const ERROR = parsePath('/#/error');

// Linkerd's DelegateApiHandlerTest "/delegate response", with the `meta` fields Linkerd 1.7 adds.
test('delegate: Linkerd DelegateApiHandler expectation for /boo/humbug, byte for byte', async () => {
  const interpreter = new NameInterpreter({ global: globalNamer(), namers: [{ prefix: ERROR, kind: 'error', namer: new FakeNamer(ERROR, 'error') }] });
  const dtab = parseDtab(`
    /beh => /#/error ;
    /bah/humbug => /$/inet/127.1/8080 ;
    /foo => /bah | /beh | /$/fail ;
    /foo => /bar ;
    /boo => /foo ;
    /meh => /heh ;
  `);
  const tree = await delegate(interpreter, parseDtab(dtab.show()), parsePath('/boo/humbug'));
  const expected =
    '{"type":"delegate","path":"/boo/humbug","delegate":{' +
    '"type":"alt","path":"/foo/humbug","dentry":{"prefix":"/boo","dst":"/foo"},"alt":[' +
    '{"type":"neg","path":"/bar/humbug","dentry":{"prefix":"/foo","dst":"/bar"}},' +
    '{"type":"delegate","path":"/bah/humbug","dentry":{"prefix":"/foo","dst":"/bah | /beh | /$/fail"},"delegate":{' +
    '"type":"leaf","path":"/$/inet/127.1/8080","dentry":{"prefix":"/bah/humbug","dst":"/$/inet/127.1/8080"},' +
    '"bound":{"addr":{"type":"bound","addrs":[{"ip":"127.0.0.1","port":8080,"meta":{}}],"meta":{}},' +
    '"id":"/$/inet/127.1/8080","path":"/"}}},' +
    '{"type":"delegate","path":"/beh/humbug","dentry":{"prefix":"/foo","dst":"/bah | /beh | /$/fail"},"delegate":{' +
    '"type":"exception","path":"/#/error/humbug","dentry":{"prefix":"/beh","dst":"/#/error"},' +
    '"message":"error naming /#/error/humbug"}},' +
    '{"type":"fail","path":"/$/fail/humbug","dentry":{"prefix":"/foo","dst":"/bah | /beh | /$/fail"}}]}}';
  assert.equal(JSON.stringify(tree), expected);
});

test('delegate: explicit ~, !, $; unions with weights; residuals; unmatched root', async () => {
  const k8s = new FakeNamer(parsePath('/#/io.l5d.k8s'));
  k8s.bind('/default/grpc/echo', '10.0.0.1:8080');
  const i = new NameInterpreter({ global: globalNamer(), namers: [{ prefix: k8s.prefix, kind: 'k8s', namer: k8s }] });
  const dtab = parseDtab('/neg => ~; /bang => !; /nil => $; /svc => 0.25*/#/io.l5d.k8s/default/grpc & 0.75*/neg');
  assert.deepEqual(await delegate(i, dtab, parsePath('/neg/x')), {
    type: 'delegate',
    path: '/neg/x',
    delegate: { type: 'neg', path: '~', dentry: { prefix: '/neg', dst: '~' } },
  });
  // Linkerd's DelegateTree.simplify never collapses a Delegate into a Neg, Fail or Empty child.
  assert.deepEqual(await delegate(i, dtab, parsePath('/bang')), {
    type: 'delegate',
    path: '/bang',
    delegate: { type: 'fail', path: '!', dentry: { prefix: '/bang', dst: '!' } },
  });
  assert.deepEqual(await delegate(i, dtab, parsePath('/nil')), {
    type: 'delegate',
    path: '/nil',
    delegate: { type: 'empty', path: '/nil', dentry: { prefix: '/nil', dst: '$' } },
  });
  assert.deepEqual(await delegate(i, dtab, parsePath('/nothing/here')), { type: 'neg', path: '/nothing/here' });

  const svcDentry = { prefix: '/svc', dst: '0.25*/#/io.l5d.k8s/default/grpc & 0.75*/neg' };
  // The union is the lookup result for the root path itself, so the root Delegate collapses into it
  // and the union takes the root's (no-op) dentry: Linkerd's `simplified.withDentry(dentry)`.
  assert.deepEqual(await delegate(i, dtab, parsePath('/svc/echo')), {
    type: 'union',
    path: '/svc/echo',
    union: [
      {
        weight: 0.25,
        tree: {
          type: 'leaf',
          path: '/#/io.l5d.k8s/default/grpc/echo',
          dentry: svcDentry,
          bound: {
            addr: { type: 'bound', addrs: [{ ip: '10.0.0.1', port: 8080, meta: {} }], meta: {} },
            id: '/#/io.l5d.k8s/default/grpc/echo',
            path: '/',
          },
        },
      },
      {
        weight: 0.75,
        tree: {
          type: 'delegate',
          path: '/neg/echo',
          dentry: svcDentry,
          delegate: { type: 'neg', path: '~', dentry: { prefix: '/neg', dst: '~' } },
        },
      },
    ],
  });
  // The residual travels with the bound name.
  assert.deepEqual(await delegate(i, parseDtab('/web => /$/inet/127.0.0.1/9000'), parsePath('/web/a/b')), {
    type: 'delegate',
    path: '/web/a/b',
    delegate: {
      type: 'leaf',
      path: '/$/inet/127.0.0.1/9000/a/b',
      dentry: { prefix: '/web', dst: '/$/inet/127.0.0.1/9000' },
      bound: {
        addr: { type: 'bound', addrs: [{ ip: '127.0.0.1', port: 9000, meta: {} }], meta: {} },
        id: '/$/inet/127.0.0.1/9000',
        path: '/a/b',
      },
    },
  });
});

// Linkerd DelegateTreeTest: "simplify collapses nodes with the same path" (the collapsed node
// carries the outer dentry) and "simplify converts no branch alts into neg" (a Neg is not collapsed).
test('delegate: same-path collapse takes the outer dentry; Neg/Fail/Empty children are not collapsed', async () => {
  const i = new NameInterpreter({ global: globalNamer() });
  assert.deepEqual(await delegate(i, parseDtab('/a => /b; /b => /c | /d'), parsePath('/a')), {
    type: 'delegate',
    path: '/a',
    delegate: {
      type: 'alt',
      path: '/b',
      dentry: { prefix: '/a', dst: '/b' },
      alt: [
        { type: 'neg', path: '/c', dentry: { prefix: '/b', dst: '/c | /d' } },
        { type: 'neg', path: '/d', dentry: { prefix: '/b', dst: '/c | /d' } },
      ],
    },
  });
  assert.deepEqual(await delegate(i, parseDtab('/a => /b; /b => ~'), parsePath('/a')), {
    type: 'delegate',
    path: '/a',
    delegate: {
      type: 'delegate',
      path: '/b',
      dentry: { prefix: '/a', dst: '/b' },
      delegate: { type: 'neg', path: '~', dentry: { prefix: '/b', dst: '~' } },
    },
  });
});

test('delegate: waits for a pending namer and a pending address set; times out honestly', async () => {
  const n = new FakeNamer(parsePath('/#/slow'));
  n.pending('/svc');
  const i = new NameInterpreter({ global: globalNamer(), namers: [{ prefix: n.prefix, kind: 'slow', namer: n }] });
  const addr = new Var<Addr>({ type: 'pending' });
  const answer = delegate(i, parseDtab('/s => /#/slow'), parsePath('/s/svc'), { timeoutMs: 2000 });
  setTimeout(() => {
    n.set('/svc', ok(leaf({ kind: 'bound', id: parsePath('/#/slow/svc'), addr, residual: parsePath('/') })));
    setTimeout(() => addr.set({ type: 'neg' }), 10);
  }, 10);
  const tree = await answer;
  assert.equal(tree.type, 'delegate');
  assert.deepEqual(tree.type === 'delegate' && tree.delegate.type === 'leaf' && tree.delegate.bound.addr, { type: 'neg' });

  n.pending('/never');
  await assert.rejects(delegate(i, parseDtab('/s => /#/slow'), parsePath('/s/never'), { timeoutMs: 30 }), DelegateTimeoutError);

  const stuck = new FakeNamer(parsePath('/#/stuck'));
  stuck.set('/a', ok(leaf({ kind: 'bound', id: parsePath('/#/stuck/a'), addr: new Var<Addr>({ type: 'pending' }), residual: parsePath('/') })));
  const j = new NameInterpreter({ global: globalNamer(), namers: [{ prefix: stuck.prefix, kind: 'stuck', namer: stuck }] });
  const t2 = await delegate(j, parseDtab(''), parsePath('/#/stuck/a'), { timeoutMs: 30 });
  assert.deepEqual(t2.type === 'leaf' && t2.bound.addr, { type: 'pending' });
});

test('delegate: a dtab loop stops at the recursion limit', async () => {
  const i = new NameInterpreter({ global: globalNamer() });
  await assert.rejects(delegate(i, parseDtab('/a => /b; /b => /a'), parsePath('/a')), /Max recursion level reached\./);
});

// Linkerd's ConfiguredNamersInterpreter.delegateBind turns a failed Alt or Union branch into an
// Exception node (path and dentry of the Alt/Union), so one looping branch does not hide the others.
test('delegate: a branch that fails (here a dtab loop) is an exception node beside the others', async () => {
  const i = new NameInterpreter({ global: globalNamer() });
  const dst = '/a | /$/inet/127.0.0.1/80';
  assert.deepEqual(await delegate(i, parseDtab(`/a => /b; /b => /a; /svc => ${dst}`), parsePath('/svc')), {
    type: 'alt',
    path: '/svc',
    alt: [
      { type: 'exception', path: '/svc', dentry: { prefix: '/svc', dst }, message: 'Max recursion level reached.' },
      {
        type: 'leaf',
        path: '/$/inet/127.0.0.1/80',
        dentry: { prefix: '/svc', dst },
        bound: {
          addr: { type: 'bound', addrs: [{ ip: '127.0.0.1', port: 80, meta: {} }], meta: {} },
          id: '/$/inet/127.0.0.1/80',
          path: '/',
        },
      },
    ],
  });
  const u = await delegate(i, parseDtab('/a => /b; /b => /a; /svc => 0.5*/a & 0.5*/$/inet/127.0.0.1/80'), parsePath('/svc'));
  assert.equal(u.type, 'union');
  assert.deepEqual(
    u.type === 'union' && u.union.map((w) => w.tree.type),
    ['exception', 'leaf'],
  );
});

test('delegate: unknown global namer is an exception node naming it', async () => {
  const i = new NameInterpreter({ global: globalNamer() });
  const tree = await delegate(i, parseDtab('/s => /$/nope'), parsePath('/s/x'));
  assert.deepEqual(tree, {
    type: 'delegate',
    path: '/s/x',
    delegate: { type: 'exception', path: '/$/nope/x', dentry: { prefix: '/s', dst: '/$/nope' }, message: 'Unknown namer: nope for path: /$/nope/x' },
  });
});

test('delegation is bounded in lookups like binding: a dtab whose unions multiply is refused at once, not explained in millions of nodes', async () => {
  const d: string[] = [];
  for (let i = 0; i < 20; i++) d.push(`/a${i} => /a${i + 1} & /b${i + 1}; /b${i} => /a${i + 1} & /b${i + 1}`);
  // The bound is a count of lookup steps, not time: a delegation that went past it would make about 2^21.
  const max = 2000;
  class CountingInterpreter extends NameInterpreter {
    steps = 0;
    override step(dtab: Dtab, path: Path): LookupStep {
      // Far past the bound: end the test here rather than let it explore a million nodes.
      if (++this.steps > 2 * max) throw new Error(`more than ${2 * max} lookup steps`);
      return super.step(dtab, path);
    }
  }
  const interpreter = new CountingInterpreter({ global: globalNamer() });
  // The tree's own bounds (DelegateTreeSizeError) would end it first: here, the lookups bound.
  await assert.rejects(delegate(interpreter, parseDtab(d.join('; ')), parsePath('/a0'), { maxNodes: Infinity, maxBytes: Infinity }), (e: Error) =>
    e instanceof DelegateLookupsError && e.message === "Delegation needs more than 2000 lookups: the dtab's alternatives and unions multiply");
  assert.equal(interpreter.steps, max);
  // The branches still under way when it was refused stop too.
  await new Promise((r) => setImmediate(r));
  assert.equal(interpreter.steps, max);
  // A few levels are explained as before.
  const small = await delegate(interpreter, parseDtab(d.slice(0, 3).join('; ')), parsePath('/a0'));
  assert.equal(small.type, 'union');
});
