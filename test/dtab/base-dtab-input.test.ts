import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BindingCache } from '../../src/dtab/binding-cache.js';
import { Dtab, NameInterpreter, parseDtab, parsePath, showTree, type BoundName, type NameTree } from '../../src/dtab/index.js';
import type { ActivityState } from '../../src/util/activity.js';
import { Var } from '../../src/util/var.js';
import { FakeClock } from '../support/fake-clock.js';
import { FakeNamer } from '../support/fake-namer.js';
import { globalNamer } from '../../src/namers/global.js';

const K8S = parsePath('/#/io.l5d.k8s');

function show(state: ActivityState<NameTree<BoundName>>): string {
  if (state.status === 'pending') return 'pending';
  if (state.status === 'failed') return `failed: ${state.error.message}`;
  return showTree(state.value, (b) => b.id.show());
}

test('the base dtab is an input of the binding: a reload publishes once, and watches both dtabs use stay open', () => {
  const k8s = new FakeNamer(K8S);
  k8s.bind('/default/grpc/echo', '10.0.0.1:1');
  k8s.bind('/canary/grpc/echo', '10.0.0.2:1');
  // Count each answer's activations: a watch closed and reopened across a reload would show as two.
  const starts = new Map<string, number>();
  const answers = new Map<string, ReturnType<FakeNamer['lookup']>>();
  const counting = {
    lookup: (path: Parameters<FakeNamer['lookup']>[0]) => {
      const key = path.show();
      let counted = answers.get(key);
      if (counted === undefined) {
        const answer = k8s.lookup(path);
        counted = new Var(answer.sample, (self) => {
          starts.set(key, (starts.get(key) ?? 0) + 1);
          const o = answer.observe((s) => self.set(s));
          return () => o.close();
        });
        answers.set(key, counted);
      }
      return counted;
    },
  };
  const interpreter = new NameInterpreter({ global: globalNamer(), namers: [{ prefix: K8S, kind: 'memory', namer: counting }] });
  const base = new Var<Dtab>(parseDtab('/svc => /#/io.l5d.k8s/default/grpc'));
  const binding = interpreter.bind(base, parsePath('/svc/echo'), parseDtab('/extra => /$/nil'));
  const seen: string[] = [];
  const o = binding.observe((s) => seen.push(show(s)));
  assert.deepEqual(seen, ['/#/io.l5d.k8s/default/grpc/echo']);
  base.set(parseDtab('/svc => 1 * /#/io.l5d.k8s/default/grpc & 1 * /#/io.l5d.k8s/canary/grpc'));
  assert.equal(seen.length, 2, 'one publish per reload');
  assert.match(seen[1]!, /default.*canary/);
  assert.equal(starts.get('/default/grpc/echo'), 1, 'the name both dtabs use was never released');
  base.set(parseDtab('/svc => /#/io.l5d.k8s/canary/grpc'));
  assert.equal(seen.at(-1), '/#/io.l5d.k8s/canary/grpc/echo');
  assert.equal(k8s.active, 1, 'the name no longer used is released');
  o.close();
  assert.equal(k8s.active, 0);
});

test('BindingCache on an injected clock: idle and transient TTLs without sleeping; peek keeps nothing alive', () => {
  const k8s = new FakeNamer(K8S);
  k8s.bind('/default/grpc/echo', '10.0.0.1:1');
  const interpreter = new NameInterpreter({ global: globalNamer(), namers: [{ prefix: K8S, kind: 'memory', namer: k8s }] });
  const clock = new FakeClock();
  const base = new Var<Dtab>(parseDtab('/svc => /#/io.l5d.k8s/default/grpc'));
  const cache = new BindingCache(interpreter, base, { idleTtlMs: 60_000, transientIdleTtlMs: 1000, clock });
  try {
    const lasting = cache.get(parsePath('/svc/echo'), Dtab.empty);
    cache.get(parsePath('/svc/echo'), parseDtab('/svc => /#/io.l5d.k8s/dev/grpc'));
    cache.get(parsePath('/svc/nothing'), Dtab.empty);
    assert.equal(cache.size, 3);
    for (let i = 0; i < 10; i++) {
      clock.advance(500);
      [...cache.peek()].forEach((b) => b.state.sample);
    }
    assert.deepEqual([...cache.peek()].map((b) => b.path.show()), ['/svc/echo'], 'transient ones went; peeking did not keep them');
    // A binding someone observes is in use: it outlives its idle TTL.
    const o = lasting.observe(() => {});
    clock.advance(120_000);
    assert.equal(cache.get(parsePath('/svc/echo'), Dtab.empty), lasting);
    o.close();
    clock.advance(75_000);
    assert.equal(cache.size, 0, 'gone an idle TTL after its last use');
    assert.equal(k8s.active, 0, 'and its namer watches with it');
  } finally {
    cache.close();
  }
});
