import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BindingCache } from '../../src/dtab/binding-cache.js';
import { Dtab, NameInterpreter, parseDtab, parsePath, showTree, weightedViewCount, type BoundName, type NameTree } from '../../src/dtab/index.js';
import type { ActivityState } from '../../src/util/activity.js';
import { Var } from '../../src/util/var.js';
import { FakeNamer } from '../support/fake-namer.js';
import { globalNamer } from '../../src/namers/global.js';
import { HostNames } from '../../src/namers/host-names.js';
import { REFUSED_RETRY_MAX_MS } from '../../src/namers/ask-until-room.js';
import { eventually } from '../support/eventually.js';
import { FakeClock } from '../support/fake-clock.js';

const K8S = parsePath('/#/io.l5d.k8s');

function show(state: ActivityState<NameTree<BoundName>>): string {
  if (state.status === 'pending') return 'pending';
  if (state.status === 'failed') return `failed: ${state.error.message}`;
  return showTree(state.value, (b) => b.id.show());
}

test('BindingCache: warm get returns the same live Activity; base dtab reload re-binds; local dtab is part of the key', () => {
  const k8s = new FakeNamer(K8S);
  k8s.bind('/default/grpc/echo', '10.0.0.1:1');
  k8s.bind('/canary/grpc/echo', '10.0.0.2:1');
  const interpreter = new NameInterpreter({ global: globalNamer(), namers: [{ prefix: K8S, kind: 'memory', namer: k8s }] });
  const base = new Var<Dtab>(parseDtab('/svc => /#/io.l5d.k8s/default/grpc'));
  const cache = new BindingCache(interpreter, base);
  try {
    const name = parsePath('/svc/echo');
    const a = cache.get(name, Dtab.empty);
    assert.equal(show(a.sample), '/#/io.l5d.k8s/default/grpc/echo', 'the cache keeps bindings observed, so sample is live');
    assert.equal(cache.get(parsePath('/svc/echo'), Dtab.empty), a, 'warm hit: the same Activity');
    assert.equal(cache.size, 1);

    const local = parseDtab('/svc => /#/io.l5d.k8s/canary/grpc');
    const b = cache.get(name, local);
    assert.notEqual(b, a);
    assert.equal(show(b.sample), '/#/io.l5d.k8s/canary/grpc/echo');
    assert.equal(cache.get(name, parseDtab('/svc=>/#/io.l5d.k8s/canary/grpc')), b, 'keyed by the canonical local dtab');
    assert.equal(cache.size, 2);

    const seen: string[] = [];
    const o = a.observe((s) => seen.push(show(s)));
    base.set(parseDtab('/svc => /#/io.l5d.k8s/canary/grpc'));
    assert.deepEqual(seen, ['/#/io.l5d.k8s/default/grpc/echo', '/#/io.l5d.k8s/canary/grpc/echo']);
    // The local dtab still wins over the new base.
    base.set(parseDtab('/svc => /#/io.l5d.k8s/default/grpc'));
    assert.equal(show(b.sample), '/#/io.l5d.k8s/canary/grpc/echo');
    // Namer changes reach cached bindings.
    k8s.bind('/default/grpc/echo', '10.0.0.9:1');
    k8s.set('/default/grpc/echo', { status: 'failed', error: new Error('gone') });
    assert.equal(seen.at(-1), 'failed: gone');
    o.close();
  } finally {
    cache.close();
  }
  assert.equal(k8s.active, 0, 'closing the cache releases every namer watch');
});

test('BindingCache: idle entries are evicted and release their watches; observed ones stay', async () => {
  const k8s = new FakeNamer(K8S);
  const interpreter = new NameInterpreter({ global: globalNamer(), namers: [{ prefix: K8S, kind: 'memory', namer: k8s }] });
  const cache = new BindingCache(interpreter, new Var(Dtab.empty), { idleTtlMs: 40 });
  try {
    cache.get(parsePath('/#/io.l5d.k8s/a'), Dtab.empty);
    const held = cache.get(parsePath('/#/io.l5d.k8s/b'), Dtab.empty);
    const o = held.observe(() => {});
    assert.equal(k8s.active, 2);
    await eventually('the idle entries expired', () => cache.size === 1, 1000);
    assert.equal(k8s.active, 1);
    assert.equal(cache.get(parsePath('/#/io.l5d.k8s/b'), Dtab.empty), held);
    o.close();
  } finally {
    cache.close();
  }
});

test('BindingCache: maxEntries evicts the least recently used', () => {
  const k8s = new FakeNamer(K8S);
  const interpreter = new NameInterpreter({ global: globalNamer(), namers: [{ prefix: K8S, kind: 'memory', namer: k8s }] });
  const cache = new BindingCache(interpreter, new Var(Dtab.empty), { maxEntries: 2 });
  try {
    const a = cache.get(parsePath('/#/io.l5d.k8s/a'), Dtab.empty);
    cache.get(parsePath('/#/io.l5d.k8s/b'), Dtab.empty);
    cache.get(parsePath('/#/io.l5d.k8s/c'), Dtab.empty);
    assert.equal(cache.size, 2);
    assert.equal(k8s.active, 2);
    assert.notEqual(cache.get(parsePath('/#/io.l5d.k8s/a'), Dtab.empty), a, 'a was evicted and is bound afresh');
  } finally {
    cache.close();
  }
});

test('BindingCache: bindings under a request-local dtab, and names that do not exist, go after transientIdleTtlMs; the rest stay', async () => {
  const k8s = new FakeNamer(K8S);
  k8s.bind('/default/grpc/echo', '10.0.0.1:1');
  k8s.bind('/dev/grpc/echo', '10.0.0.2:1');
  const interpreter = new NameInterpreter({ global: globalNamer(), namers: [{ prefix: K8S, kind: 'memory', namer: k8s }] });
  let full = 0;
  const base = new Var<Dtab>(parseDtab('/svc => /#/io.l5d.k8s/default/grpc'));
  const cache = new BindingCache(interpreter, base, { idleTtlMs: 60_000, transientIdleTtlMs: 40, maxEntries: 3, onFull: () => full++ });
  try {
    const lasting = cache.get(parsePath('/svc/echo'), Dtab.empty);
    assert.equal(show(lasting.sample), '/#/io.l5d.k8s/default/grpc/echo');
    cache.get(parsePath('/svc/echo'), parseDtab('/svc => /#/io.l5d.k8s/dev/grpc'));
    assert.equal(show(cache.get(parsePath('/svc/nothing'), Dtab.empty).sample), '~');
    assert.equal(cache.size, 3);
    await eventually('the override and the Neg name gone', () => cache.size === 1, 1000);
    assert.deepEqual([...cache.peek()].map((b) => b.path.show()), ['/svc/echo']);
    assert.equal(cache.get(parsePath('/svc/echo'), Dtab.empty), lasting, 'the lasting binding is the same one');
    assert.equal(full, 0);
  } finally {
    cache.close();
  }
});

test('BindingCache: full, it evicts an entry nobody asked for since the clock last passed (CLOCK), and says so', () => {
  const k8s = new FakeNamer(K8S);
  const interpreter = new NameInterpreter({ global: globalNamer(), namers: [{ prefix: K8S, kind: 'memory', namer: k8s }] });
  let full = 0;
  const cache = new BindingCache(interpreter, new Var(Dtab.empty), { maxEntries: 3, onFull: () => full++ });
  try {
    const [a, , c] = ['a', 'b', 'c'].map((n) => cache.get(parsePath(`/#/io.l5d.k8s/${n}`), Dtab.empty));
    cache.get(parsePath('/#/io.l5d.k8s/d'), Dtab.empty); // full: one sweep of the clock, the oldest (a) goes
    assert.equal(full, 1);
    assert.equal(cache.get(parsePath('/#/io.l5d.k8s/c'), Dtab.empty), c, 'c is asked for again: a second chance');
    cache.get(parsePath('/#/io.l5d.k8s/e'), Dtab.empty); // b was not asked for since: b goes, c stays
    assert.deepEqual([...cache.peek()].map((x) => x.path.show()).sort(), ['/#/io.l5d.k8s/c', '/#/io.l5d.k8s/d', '/#/io.l5d.k8s/e']);
    assert.notEqual(cache.get(parsePath('/#/io.l5d.k8s/a'), Dtab.empty), a, 'a was evicted and is bound afresh');
    assert.equal(cache.size, 3);
    assert.equal(k8s.active, 3, 'evicted bindings released their namer watches');
  } finally {
    cache.close();
  }
});

test('BindingCache: weighted views of a shared bound name go with the transient bindings that made them (a client sending fresh weights per call grows nothing)', () => {
  const k8s = new FakeNamer(K8S);
  const echo = k8s.bind('/default/grpc/echo', '10.0.0.1:1');
  const interpreter = new NameInterpreter({ global: globalNamer(), namers: [{ prefix: K8S, kind: 'memory', namer: k8s }] });
  const clock = new FakeClock();
  const base = new Var<Dtab>(parseDtab('/svc => /#/io.l5d.k8s/default/grpc; /svc/x => 0.9*/svc/echo & 0.1*/svc/none'));
  const cache = new BindingCache(interpreter, base, { idleTtlMs: 60_000, transientIdleTtlMs: 1000, maxEntries: 20, clock });
  try {
    const lasting = cache.get(parsePath('/svc/x'), Dtab.empty);
    assert.equal(show(lasting.sample), '/#/io.l5d.k8s/default/grpc/echo');
    assert.equal(weightedViewCount(echo), 1);
    const branches = 90;
    const calls = 60;
    for (let call = 0; call < calls; call++) {
      // `l5d-dtab: /n/<i>=>/a;/svc/x=>1.0000001*/svc/echo & 1.0000002*/svc/echo & …`, fresh weights every call.
      const weights = Array.from({ length: branches }, (_, b) => `1.${String(call * branches + b + 1).padStart(7, '0')}*/svc/echo`);
      const local = parseDtab(`/n/${call}=>/a;/svc/x=>${weights.join(' & ')}`);
      const state = cache.get(parsePath('/svc/x'), local);
      assert.equal(state.sample.status, 'ok');
      // The cache holds at most maxEntries bindings, so at most that many bindings' views.
      assert.ok(weightedViewCount(echo) <= 1 + 19 * branches, `${weightedViewCount(echo)} views held`);
    }
    clock.advance(5_000);
    assert.equal(cache.size, 1, 'the overrides were released after transientIdleTtlMs');
    assert.equal(weightedViewCount(echo), 1, 'and their weighted views with them: only the lasting binding’s is left');
    assert.equal(cache.get(parsePath('/svc/x'), Dtab.empty), lasting);
  } finally {
    cache.close();
  }
  assert.equal(weightedViewCount(echo), 0, 'closing the cache lets go of every view');
  assert.equal(k8s.active, 0);
});

test('BindingCache: local dtabs that differ only past a weight’s second decimal get their own bindings', () => {
  const k8s = new FakeNamer(K8S);
  k8s.bind('/default/grpc/a', '10.0.0.1:1');
  k8s.bind('/default/grpc/b', '10.0.0.2:1');
  const interpreter = new NameInterpreter({ global: globalNamer(), namers: [{ prefix: K8S, kind: 'memory', namer: k8s }] });
  const cache = new BindingCache(interpreter, new Var(parseDtab('/svc => /#/io.l5d.k8s/default/grpc')), { clock: new FakeClock() });
  const weights = (state: ActivityState<NameTree<BoundName>>) => {
    assert.ok(state.status === 'ok' && state.value.kind === 'union');
    return state.value.trees.map((w) => `${w.weight} ${w.tree.kind === 'leaf' ? w.tree.value.id.show() : w.tree.kind}`);
  };
  try {
    const name = parsePath('/svc/x');
    const toA = parseDtab('/svc/x=>0.004*/svc/a & 0*/svc/b');
    const toB = parseDtab('/svc/x=>0*/svc/a & 0.004*/svc/b');
    assert.equal(toA.show(), toB.show(), 'shown alike (two decimals)');
    const a = cache.get(name, toA);
    const b = cache.get(name, toB);
    assert.notEqual(a, b, 'but not one binding');
    assert.deepEqual(weights(a.sample), ['0.004 /#/io.l5d.k8s/default/grpc/a', '0 /#/io.l5d.k8s/default/grpc/b']);
    assert.deepEqual(weights(b.sample), ['0 /#/io.l5d.k8s/default/grpc/a', '0.004 /#/io.l5d.k8s/default/grpc/b']);
    assert.equal(cache.size, 2);
    assert.equal(cache.get(name, parseDtab('/svc/x => .0040 * /svc/a & 0.0 * /svc/b')), a, 'the same weights are the same key');
  } finally {
    cache.close();
  }
});

test('BindingCache: a base-dtab name refused while a flood filled the DNS names table resolves once the flood is gone, within the binding TTL', async () => {
  const clock = new FakeClock();
  let full = 0;
  const lookups: string[] = [];
  const hosts = new HostNames({
    lookup: (host) => {
      lookups.push(host);
      return Promise.resolve({ kind: 'ok', records: [host === 'legit.internal' ? '10.1.1.1' : '10.6.6.6'], ttlSeconds: 60 });
    },
    refreshMs: 60_000,
    idleTtlMs: 30_000,
    maxNames: 3,
    onFull: () => full++,
    clock,
  });
  const interpreter = new NameInterpreter({ global: globalNamer({ hosts }) });
  const cache = new BindingCache(interpreter, new Var(parseDtab('/svc/legit => /$/inet/legit.internal/8080')), { clock });
  const flush = () => new Promise<void>((resolve) => setImmediate(resolve));
  /** What a balancer does with a binding: observes its bound name's address set. */
  const connect = (path: string, local: Dtab) => {
    const state = cache.get(parsePath(path), local).sample;
    assert.ok(state.status === 'ok' && state.value.kind === 'leaf', `${path} binds to a leaf`);
    const addr = state.value.value.addr;
    return { addr, observation: addr.observe(() => {}) };
  };
  try {
    // One client names three attacker hosts through l5d-dtab and keeps them in use: the table is full.
    const flood = [0, 1, 2].map((i) => connect('/svc/x', parseDtab(`/svc/x => /$/inet/h${i}.attacker.example/80`)));
    await flush();
    assert.equal(full, 0);

    // Another client's first call through the router's own dtab is refused, and the refusal is counted once.
    const legit = connect('/svc/legit', Dtab.empty);
    assert.deepEqual(legit.addr.sample, { type: 'failed', cause: 'too many DNS names in use (maxNames 3): not resolving inet legit.internal/8080' });
    assert.equal(full, 1);
    clock.advance(20_000);
    assert.equal(legit.addr.sample.type, 'failed', 'still refused while the flood holds the table');
    assert.equal(full, 1, 'asking again is not a new refusal');

    // The flood stops; its names go idle and expire: the table has room.
    for (const f of flood) f.observation.close();
    clock.advance(30_000 * 1.25 + REFUSED_RETRY_MAX_MS);
    await flush();
    assert.ok(lookups.includes('legit.internal'), 'the refused name was looked up once there was room');

    // The client that kept its connection sees the name resolve, long before the binding's 600 s TTL.
    assert.deepEqual(legit.addr.sample, { type: 'bound', addrs: [{ host: '10.1.1.1', port: 8080, weight: 1, meta: {} }], meta: {} });
    // And a new call through the cached binding finds it resolved.
    const again = connect('/svc/legit', Dtab.empty);
    assert.equal(again.addr.sample.type, 'bound');
    again.observation.close();
    legit.observation.close();
    assert.equal(full, 1);
  } finally {
    cache.close();
    hosts.close();
  }
});
