import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  NameInterpreter,
  Path,
  parseDtab,
  parsePath,
  showTree,
  type BoundName,
  type Dtab,
  type LookupStep,
  type NameTree,
  weightedViewCount,
} from '../../src/dtab/index.js';
import type { ActivityState } from '../../src/util/activity.js';
import { Var } from '../../src/util/var.js';
import type { Name } from '../../src/dtab/name.js';
import type { Namer } from '../../src/namers/namer.js';
import { ok } from '../../src/util/activity.js';
import { Neg, leaf } from '../../src/dtab/nametree.js';
import { FakeNamer } from '../support/fake-namer.js';
import { globalNamer } from '../../src/namers/global.js';

const K8S = parsePath('/#/io.l5d.k8s');

function show(state: ActivityState<NameTree<BoundName>>): string {
  if (state.status === 'pending') return 'pending';
  if (state.status === 'failed') return `failed: ${state.error.message}`;
  return showTree(state.value, (b) => b.id.show() + (b.residual.isEmpty ? '' : `+${b.residual.show()}`));
}

/** Observe a binding once and return what it says now. */
function bindNow(interpreter: NameInterpreter, dtab: string, path: string): string {
  const act = interpreter.bind(parseDtab(dtab), parsePath(path));
  let seen = '';
  const obs = act.observe((s) => (seen = show(s)));
  obs.close();
  return seen;
}

test('bind: dtab rewrites down to a configured namer, residual kept', () => {
  const k8s = new FakeNamer(K8S);
  k8s.bind('/default/grpc/echo', '10.0.0.1:8080');
  const i = new NameInterpreter({ global: globalNamer(), namers: [{ prefix: K8S, kind: 'memory', namer: k8s }] });
  assert.equal(bindNow(i, '/svc => /#/io.l5d.k8s/default/grpc', '/svc/echo'), '/#/io.l5d.k8s/default/grpc/echo');
  assert.deepEqual(k8s.lookups, ['/default/grpc/echo']);
});

test('bind: Alt falls through only on Neg; Fail stops; Empty wins', () => {
  const n = new FakeNamer(K8S);
  n.bind('/b', '1.1.1.1:1');
  const i = new NameInterpreter({ global: globalNamer(), namers: [{ prefix: K8S, kind: 'memory', namer: n }] });
  const d = '/x => /#/io.l5d.k8s';
  assert.equal(bindNow(i, d, '/#/io.l5d.k8s/a'), '~');
  assert.equal(bindNow(i, `${d}; /s => /x/a | /x/b`, '/s'), '/#/io.l5d.k8s/b');
  assert.equal(bindNow(i, `${d}; /s => /nowhere | /x/b`, '/s'), '/#/io.l5d.k8s/b');
  assert.equal(bindNow(i, `${d}; /s => ! | /x/b`, '/s'), '!');
  assert.equal(bindNow(i, `${d}; /s => /$/fail | /x/b`, '/s'), '!');
  assert.equal(bindNow(i, `${d}; /s => $ | /x/b`, '/s'), '$');
  assert.equal(bindNow(i, `${d}; /s => /$/nil | /x/b`, '/s'), '$');
  assert.equal(bindNow(i, `${d}; /s => ~ | ~`, '/s'), '~');
  n.fail('/bad', 'boom');
  assert.equal(bindNow(i, `${d}; /s => /x/bad | /x/b`, '/s'), 'failed: boom');
  n.pending('/slow');
  assert.equal(bindNow(i, `${d}; /s => /x/slow | /x/b`, '/s'), 'pending');
});

test('bind: Union binds all, drops Neg and Fail children, keeps weights; nothing left is Neg and falls through', () => {
  const n = new FakeNamer(K8S);
  n.bind('/a', '1.1.1.1:1');
  n.bind('/b', '2.2.2.2:2');
  const i = new NameInterpreter({ global: globalNamer(), namers: [{ prefix: K8S, kind: 'memory', namer: n }] });
  const d = '/x => /#/io.l5d.k8s';
  assert.equal(bindNow(i, `${d}; /s => 0.3*/x/a & 0.7*/x/b`, '/s'), '0.30*/#/io.l5d.k8s/a & 0.70*/#/io.l5d.k8s/b');
  assert.equal(bindNow(i, `${d}; /s => 0.3*/x/a & 0.7*/x/none & ! `, '/s'), '/#/io.l5d.k8s/a');
  assert.equal(bindNow(i, `${d}; /s => (! & !) | /x/b`, '/s'), '/#/io.l5d.k8s/b');
  assert.equal(bindNow(i, `${d}; /s => (/x/none & ~) | /x/b`, '/s'), '/#/io.l5d.k8s/b');
  assert.equal(bindNow(i, `${d}; /s => $ & /x/a`, '/s'), '$ & /#/io.l5d.k8s/a');
  n.fail('/bad', 'first failure');
  n.pending('/slow');
  assert.equal(bindNow(i, `${d}; /s => /x/bad & /x/a`, '/s'), '/#/io.l5d.k8s/a');
  assert.equal(bindNow(i, `${d}; /s => /x/slow & /x/bad`, '/s'), 'failed: first failure');
  assert.equal(bindNow(i, `${d}; /s => /x/slow & /x/none`, '/s'), '~');
  assert.equal(bindNow(i, `${d}; /s => /x/slow & /x/slow`, '/s'), 'pending');
  // Bound trees hold no Alt: alternatives inside a union resolve to their winner.
  assert.equal(bindNow(i, `${d}; /s => (/x/none | /x/a) & 2*/x/b`, '/s'), '/#/io.l5d.k8s/a & 2.00*/#/io.l5d.k8s/b');
});

test('bind: depth limit with Finagle message, configurable', () => {
  const i = new NameInterpreter({ global: globalNamer() });
  assert.equal(
    bindNow(i, '/foo/bar => /bar/foo; /bar/foo => /foo/bar', '/foo/bar'),
    'failed: Max recursion level: 100 reached in Namer lookup',
  );
  const small = new NameInterpreter({ global: globalNamer(), maxDepth: 3 });
  // Every lookup is one level, the global namer's included (Finagle counts the same way).
  assert.equal(bindNow(small, '/a => /b; /b => /$/nil', '/a'), '$');
  assert.equal(bindNow(small, '/a => /b; /b => /c; /c => /$/nil', '/a'), 'failed: Max recursion level: 3 reached in Namer lookup');
});

test('namers: consulted only when the dtab gives Neg for that exact path; last configured first; Neg passes on', () => {
  const first = new FakeNamer(parsePath('/#/ns'));
  const second = new FakeNamer(parsePath('/#/ns/inner'));
  first.bind('/inner/svc', '1.1.1.1:1');
  second.bind('/other', '2.2.2.2:2');
  const i = new NameInterpreter({ global: globalNamer(),
    namers: [
      { prefix: first.prefix, kind: 'first', namer: first },
      { prefix: second.prefix, kind: 'second', namer: second },
    ],
  });
  // second (configured last) is asked first, says Neg, so first answers.
  assert.equal(bindNow(i, '', '/#/ns/inner/svc'), '/#/ns/inner/svc');
  assert.deepEqual(second.lookups, ['/svc']);
  assert.deepEqual(first.lookups, ['/inner/svc']);
  assert.equal(bindNow(i, '', '/#/ns/inner/other'), '/#/ns/inner/other');
  // A dentry shadows the namer for that path.
  first.lookups.length = 0;
  assert.equal(bindNow(i, '/#/ns/inner/svc => /$/inet/127.0.0.1/9', '/#/ns/inner/svc'), '/$/inet/127.0.0.1/9');
  assert.deepEqual(first.lookups, []);
  // A lone `p => ~` gives Neg, which (like no match) goes on to the namers.
  assert.equal(bindNow(i, '/#/ns/inner/svc => ~', '/#/ns/inner/svc'), '/#/ns/inner/svc');
  assert.equal(bindNow(i, '', '/#/unknown/x'), '~');
});

test('reactivity: an observed binding follows namer answers without polling; closing releases the watches', () => {
  const n = new FakeNamer(K8S);
  const i = new NameInterpreter({ global: globalNamer(), namers: [{ prefix: K8S, kind: 'memory', namer: n }] });
  const act = i.bind(parseDtab('/svc => /#/io.l5d.k8s/a | /#/io.l5d.k8s/b'), parsePath('/svc'));
  const seen: string[] = [];
  const obs = act.observe((s) => seen.push(show(s)));
  assert.deepEqual(seen, ['~']);
  assert.equal(n.active, 2);

  n.bind('/b', '2.2.2.2:2');
  assert.deepEqual(seen, ['~', '/#/io.l5d.k8s/b']);
  n.bind('/a', '1.1.1.1:1');
  assert.deepEqual(seen.at(-1), '/#/io.l5d.k8s/a');
  // /a answers now, so /b is no longer needed and its watch is released.
  assert.equal(n.active, 1);
  n.set('/a', ok(Neg));
  assert.deepEqual(seen.at(-1), '/#/io.l5d.k8s/b');
  assert.equal(n.active, 2);
  n.pending('/a');
  assert.equal(seen.at(-1), 'pending');
  n.fail('/a', 'watch failed');
  assert.equal(seen.at(-1), 'failed: watch failed');
  const count = seen.length;
  n.fail('/a', 'watch failed');
  assert.equal(seen.length, count, 'the same answer again is not a change');

  obs.close();
  assert.equal(n.active, 0);
  n.bind('/a', '1.1.1.1:1');
  assert.equal(seen.length, count, 'a closed binding hears nothing');
  // Observing again binds afresh.
  const again: string[] = [];
  act.observe((s) => again.push(show(s))).close();
  assert.deepEqual(again, ['/#/io.l5d.k8s/a']);
});

test('reactivity: a namer answering with a further path keeps binding through the dtab', () => {
  const n = new FakeNamer(parsePath('/#/alias'));
  const i = new NameInterpreter({ global: globalNamer(), namers: [{ prefix: n.prefix, kind: 'memory', namer: n }] });
  const act = i.bind(parseDtab('/svc => /#/alias; /target => /$/inet/127.0.0.1/7000'), parsePath('/svc/x'));
  const seen: string[] = [];
  const obs = act.observe((s) => seen.push(show(s)));
  assert.deepEqual(seen, ['~']);
  n.set('/x', ok(leaf({ kind: 'path', path: Path.of('target') })));
  assert.deepEqual(seen, ['~', '/$/inet/127.0.0.1/7000']);
  obs.close();
});

test('reactivity: a change made by an observer while it hears a state reaches every observer in order', () => {
  const n = new FakeNamer(K8S);
  const i = new NameInterpreter({ global: globalNamer(), namers: [{ prefix: K8S, kind: 'memory', namer: n }] });
  const act = i.bind(parseDtab('/svc => /#/io.l5d.k8s/a | /#/io.l5d.k8s/b'), parsePath('/svc'));
  const first: string[] = [];
  const second: string[] = [];
  const o1 = act.observe((s) => {
    first.push(show(s));
    if (show(s) === '/#/io.l5d.k8s/b') n.bind('/a', '1.1.1.1:1');
  });
  const o2 = act.observe((s) => second.push(show(s)));
  n.bind('/b', '2.2.2.2:2');
  assert.deepEqual(first, ['~', '/#/io.l5d.k8s/b', '/#/io.l5d.k8s/a']);
  assert.deepEqual(second, ['~', '/#/io.l5d.k8s/b', '/#/io.l5d.k8s/a']);
  o1.close();
  o2.close();
  assert.equal(n.active, 0);
});

test('reactivity: an answer changed by another answer’s activation during a pass is not missed', () => {
  const n = new FakeNamer(K8S);
  // A namer whose watch on /a, when it starts, learns about /b too (one shared watch).
  const a = new Var<ActivityState<NameTree<Name>>>(ok(Neg), () => {
    n.bind('/b', '2.2.2.2:2');
  });
  const shared: Namer = { lookup: (path) => (path.show() === '/a' ? a : n.lookup(path)) };
  const i = new NameInterpreter({ global: globalNamer(), namers: [{ prefix: K8S, kind: 'shared', namer: shared }] });
  const act = i.bind(parseDtab('/s => /#/io.l5d.k8s/b & /#/io.l5d.k8s/a'), parsePath('/s'));
  let last = '';
  const o = act.observe((s) => (last = show(s)));
  assert.equal(last, '/#/io.l5d.k8s/b');
  o.close();
  assert.equal(n.active, 0);
});

test('bind: bound address sets below a Union carry their branch weight (Finagle namer_nametree_weight)', () => {
  const n = new FakeNamer(K8S);
  const a = n.bind('/a', '1.1.1.1:1');
  n.bind('/b', '2.2.2.2:2');
  const i = new NameInterpreter({ global: globalNamer(), namers: [{ prefix: K8S, kind: 'memory', namer: n }] });
  /** Bind /s and keep observing it: its current tree, and how to let it go. */
  const hold = (dtab: string) => {
    let tree: NameTree<BoundName> | undefined;
    const o = i.bind(parseDtab(dtab), parsePath('/s')).observe((s) => (tree = s.status === 'ok' ? s.value : undefined));
    return { tree: () => tree!, close: () => o.close() };
  };
  const grab = (dtab: string) => {
    const h = hold(dtab);
    h.close();
    return h.tree();
  };
  const first = hold('/x => /#/io.l5d.k8s; /s => 0.3*/x/a & 0.7*(/x/none | /x/b)');
  const u = first.tree();
  assert.equal(u.kind, 'union');
  const leafAt = (t: NameTree<BoundName>, i: number): BoundName => {
    const w = t.kind === 'union' ? t.trees[i]?.tree : undefined;
    assert.ok(w?.kind === 'leaf');
    return w.value;
  };
  const metaOf = (b: BoundName) => {
    const addr = b.addr.sample;
    return addr.type === 'bound' ? addr.meta : addr.type;
  };
  assert.deepEqual(metaOf(leafAt(u, 0)), { namer_nametree_weight: 0.3 });
  assert.deepEqual(metaOf(leafAt(u, 1)), { namer_nametree_weight: 0.7 });
  assert.equal(leafAt(u, 0).id.show(), '/#/io.l5d.k8s/a');
  // While a binding holds them, the same binding again gives the very same weighted names;
  // outside a Union the namer's own name.
  const again = grab('/x => /#/io.l5d.k8s; /s => 0.3*/x/a & 0.7*(/x/none | /x/b)');
  assert.equal(leafAt(again, 0), leafAt(u, 0));
  const plain = grab('/s => /#/io.l5d.k8s/a');
  assert.ok(plain.kind === 'leaf' && plain.value === a);
  // A pass run again by a namer change keeps the views of what did not change.
  n.bind('/b', '2.2.2.3:2');
  assert.equal(leafAt(first.tree(), 0), leafAt(u, 0));
  assert.deepEqual(metaOf(leafAt(first.tree(), 1)), { namer_nametree_weight: 0.7 });
  // The weighted view is live while observed.
  const seen: string[] = [];
  const o = leafAt(u, 0).addr.observe((x) => seen.push(x.type));
  assert.deepEqual(seen, ['bound']);
  o.close();
  assert.equal(weightedViewCount(a), 1);
  first.close();
  assert.equal(weightedViewCount(a), 0, 'the views went with the binding that held them');
});

test('bind: weighted views do not outlive their bindings: distinct weights from request dtabs leave nothing on the shared bound name', () => {
  const n = new FakeNamer(K8S);
  const echo = n.bind('/echo', '1.1.1.1:1');
  const i = new NameInterpreter({ global: globalNamer(), namers: [{ prefix: K8S, kind: 'memory', namer: n }] });
  // A lasting binding (the base dtab's) keeps its one view of echo throughout.
  const lasting = i.bind(parseDtab('/svc/x => 0.5*/#/io.l5d.k8s/echo & 0.5*/#/io.l5d.k8s/none'), parsePath('/svc/x')).observe(() => {});
  assert.equal(weightedViewCount(echo), 1);
  const branches = 90;
  for (let call = 0; call < 50; call++) {
    // A hostile l5d-dtab: a fresh weight per branch per call, all on the one bound name.
    const weights = Array.from({ length: branches }, (_, b) => `1.${String(call * branches + b + 1).padStart(7, '0')}*/svc/echo`);
    const dtab = parseDtab(`/svc/echo => /#/io.l5d.k8s/echo; /svc/x => ${weights.join(' & ')}`);
    const o = i.bind(dtab, parsePath('/svc/x')).observe(() => {});
    assert.equal(weightedViewCount(echo), 1 + branches, 'a live binding holds one view per weight it reached');
    o.close();
  }
  assert.equal(weightedViewCount(echo), 1, 'only the lasting binding’s view is left');
  lasting.close();
  assert.equal(weightedViewCount(echo), 0);
  assert.equal(n.active, 0);
});

/** N dentries whose right sides each name the next level twice: binding /a0 makes ~2^(N+1) lookups. */
function multiplying(levels: number, op: '&' | '|'): string {
  const d: string[] = [];
  for (let i = 0; i < levels; i++) d.push(`/a${i} => /a${i + 1} ${op} /b${i + 1}; /b${i} => /a${i + 1} ${op} /b${i + 1}`);
  d.push(`/a${levels} => /$/inet/127.0.0.1/1; /b${levels} => /$/inet/127.0.0.1/2`);
  return d.join('; ');
}

test('bind: lookups are bounded over all branches (maxLookups), not only in depth: a dtab whose unions or failing alternatives multiply fails at once', () => {
  // The bound is a count of lookup steps, not time.
  class CountingInterpreter extends NameInterpreter {
    steps = 0;
    override step(dtab: Dtab, path: Path): LookupStep {
      // Far past the bound: end the test here rather than hold the event loop for a million steps.
      if (++this.steps > 1000) throw new Error('more than 1000 lookup steps');
      return super.step(dtab, path);
    }
  }
  const i = new CountingInterpreter({ global: globalNamer() });
  // Six levels are 191 lookups (127 names, 64 addresses): within the default 200.
  const six = bindNow(i, multiplying(6, '&'), '/a0');
  assert.ok(!six.startsWith('failed') && six.split('/$/inet/127.0.0.1/1').length === 33, six.slice(0, 200));
  assert.equal(i.steps, 191);
  // Twenty levels would be two million lookups (the event loop held for half a minute).
  i.steps = 0;
  assert.equal(bindNow(i, multiplying(20, '&'), '/a0'), "failed: Binding needs more than 200 lookups: the dtab's alternatives and unions multiply");
  assert.equal(i.steps, 200);
  // Alternatives whose branches all fall through multiply the same way.
  i.steps = 0;
  const alts = multiplying(20, '|').replace('/a20 => /$/inet/127.0.0.1/1; /b20 => /$/inet/127.0.0.1/2', '/a20 => ~; /b20 => ~');
  assert.equal(bindNow(i, alts, '/a0'), "failed: Binding needs more than 200 lookups: the dtab's alternatives and unions multiply");
  assert.equal(i.steps, 200);
  assert.equal(new NameInterpreter({ global: globalNamer(), maxLookups: 1000 }).maxLookups, 1000);
});
