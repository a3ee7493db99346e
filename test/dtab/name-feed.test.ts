import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NameInterpreter } from '../../src/dtab/interpreter.js';
import { parseDtab, parsePath } from '../../src/dtab/index.js';
import type { Addr } from '../../src/dtab/name.js';
import { leaf } from '../../src/dtab/nametree.js';
import { NameFeed, type FeedState } from '../../src/dtab/name-feed.js';
import { SERVER_LIST_VIEW, type ServerListResult } from '../../src/grpclb/server-list.js';
import { globalNamer } from '../../src/namers/global.js';
import { ok } from '../../src/util/activity.js';
import { Var } from '../../src/util/var.js';
import { addrOf, boundName, FakeNamer } from '../support/fake-namer.js';
import { FakeClock } from '../support/fake-clock.js';

/** The next state the feed publishes (its observers hear only changes). */
function nextState(feed: NameFeed<ServerListResult>): Promise<FeedState<ServerListResult>> {
  return new Promise((resolve) => {
    let first = true;
    const o = feed.state.observe((s) => {
      if (first) return void (first = false);
      queueMicrotask(() => o.close());
      resolve(s);
    });
  });
}
const keys = (s: FeedState<ServerListResult>) => (s.kind === 'bound' ? s.value.servers.map((x) => x.key) : s.kind);

test('a leaf whose discovery has not answered holds the list back for bindingTimeoutMs, then the rest is sent; its answer is pushed', async () => {
  const namer = new FakeNamer(parsePath('/#/m'));
  namer.bind('/a', '10.0.0.1:80');
  const slow = boundName(parsePath('/#/m/b'), []);
  (slow.addr as Var<Addr>).set({ type: 'pending' });
  namer.set('/b', ok(leaf(slow)));
  const interpreter = new NameInterpreter({ namers: [{ prefix: namer.prefix, kind: 'memory', namer }], global: globalNamer() });
  const dtab = Var.value(parseDtab('/svc/x => 1 * /#/m/a & 1 * /#/m/b'));
  const path = parsePath('/svc/x');
  const clock = new FakeClock();
  const feed = new NameFeed(path, interpreter.bind(dtab, path), {
    bindingTimeoutMs: 100,
    dtabText: () => dtab.sample.show(),
    clock,
    ...SERVER_LIST_VIEW,
  });
  try {
    assert.equal(feed.state.sample.kind, 'pending', 'nothing yet: b has not answered');
    clock.advance(99);
    assert.equal(feed.state.sample.kind, 'pending', 'not before the binding timeout');
    clock.advance(1);
    assert.deepEqual(keys(feed.state.sample), ['10.0.0.1:80'], 'after the binding timeout, what is known');
    const answered = nextState(feed);
    (slow.addr as Var<Addr>).set(addrOf(['10.0.0.2:80']));
    assert.deepEqual(keys(await answered), ['10.0.0.1:80', '10.0.0.2:80']);
    // A dtab change towards a name discovery is still looking up keeps the current list meanwhile.
    const fresh = boundName(parsePath('/#/m/c'), []);
    (fresh.addr as Var<Addr>).set({ type: 'pending' });
    namer.set('/c', ok(leaf(fresh)));
    dtab.set(parseDtab('/svc/x => /#/m/c'));
    assert.deepEqual(keys(feed.state.sample), ['10.0.0.1:80', '10.0.0.2:80'], 'kept while c is pending');
    const moved = nextState(feed);
    (fresh.addr as Var<Addr>).set(addrOf(['10.0.0.3:80']));
    assert.deepEqual(keys(await moved), ['10.0.0.3:80']);
  } finally {
    feed.close();
  }
  assert.equal(namer.active, 0, 'closing the feed releases every namer answer it observed');
});
