import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KubeApiServer } from '../fixtures/k8s/api-server.js';
import { K8sNamer } from '../../src/namers/k8s/k8s-namer.js';
import { KubeConnection } from '../../src/namers/k8s/connection.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { Path } from '../../src/dtab/path.js';
import { Logger } from '../../src/util/log.js';
import { Watching, boundOf, isNeg, hostPorts, capturingLogger, sameSet } from './helpers.js';
import { eventually } from '../support/eventually.js';
import { FakeClock } from '../support/fake-clock.js';
import { NEGATIVE_IDLE_TTL_MS } from '../../src/util/idle-table.js';
import { REFUSED_RETRY_MAX_MS } from '../../src/namers/ask-until-room.js';
import type { BoundName } from '../../src/dtab/name.js';
import { parseConfig } from '../../src/config/load.js';
import { startNamers } from '../../src/main.js';
import { Closers } from '../../src/util/closers.js';

const PREFIX = Path.of('#', 'io.l5d.k8s');

/** Namers made during a test; closed by withApi whatever the outcome, so a failure leaks no retry loop. */
const open = new Set<K8sNamer>();

function namerFor(api: KubeApiServer, extra: Partial<ConstructorParameters<typeof K8sNamer>[0]> = {}) {
  const metrics = new Metrics({ processMetrics: false });
  const namer = new K8sNamer({
    prefix: PREFIX,
    connection: KubeConnection.proxy('127.0.0.1', api.port),
    metrics,
    log: Logger.silent(),
    backoffMinMs: 20,
    backoffMaxMs: 200,
    idleTtlMs: 60_000,
    ...extra,
  });
  open.add(namer);
  return { namer, metrics };
}

function p(text: string): Path {
  return new Path(text.split('/').filter(Boolean));
}

async function withApi(fn: (api: KubeApiServer) => Promise<void>, options?: Parameters<typeof KubeApiServer.start>[0]): Promise<void> {
  const api = await KubeApiServer.start(options);
  try {
    await fn(api);
  } finally {
    for (const namer of open) namer.close();
    open.clear();
    await api.close();
  }
}

const ep = (ip: string, extra: Record<string, unknown> = {}) => ({ ip, ...extra });

test('pending until listed, then bound; scale out and in update addr in place without re-binding', () =>
  withApi(async (api) => {
    api.applyService('default', 'echo', [{ name: 'grpc', port: 80, targetPort: 8080 }]);
    api.applySlice('default', 'echo-abc', 'echo', [ep('10.0.0.1'), ep('10.0.0.2')], [{ name: 'grpc', port: 8080 }]);
    const { namer } = namerFor(api);
    const activity = namer.lookup(p('/default/grpc/echo'));
    assert.equal(activity.sample.status, 'pending');
    const act = new Watching(activity);
    try {
      const bound = await eventually('bound', () => boundOf(activity), 5000);
      assert.equal(bound.id.show(), '/#/io.l5d.k8s/default/grpc/echo');
      assert.equal(bound.residual.show(), '/');
      const addr = new Watching(bound.addr);
      try {
        await eventually('two endpoints', () => sameSet(hostPorts(bound.addr.sample), ['10.0.0.1:8080', '10.0.0.2:8080']), 5000);
        const statesBefore = act.values.length;
        // Scale out.
        api.applySlice('default', 'echo-abc', 'echo', [ep('10.0.0.1'), ep('10.0.0.2'), ep('10.0.0.3')], [{ name: 'grpc', port: 8080 }]);
        await eventually('scale out', () => sameSet(hostPorts(bound.addr.sample), ['10.0.0.1:8080', '10.0.0.2:8080', '10.0.0.3:8080']), 5000);
        // Scale in.
        api.applySlice('default', 'echo-abc', 'echo', [ep('10.0.0.3')], [{ name: 'grpc', port: 8080 }]);
        await eventually('scale in', () => sameSet(hostPorts(bound.addr.sample), ['10.0.0.3:8080']), 5000);
        assert.equal(act.values.length, statesBefore, 'endpoint churn must not re-emit the name tree');
        assert.equal(boundOf(activity), bound, 'the same bound name object');
        // A no-op change (same endpoints, new resourceVersion) does not notify addr observers.
        const seen = addr.values.length;
        api.applySlice('default', 'echo-abc', 'echo', [ep('10.0.0.3')], [{ name: 'grpc', port: 8080 }]);
        api.applyService('default', 'other', [{ port: 1 }]);
        await new Promise((r) => setTimeout(r, 100));
        assert.equal(addr.values.length, seen);
        const meta = bound.addr.sample.type === 'bound' ? bound.addr.sample.addrs[0]!.meta : {};
        assert.equal(meta.pod, 'echo-10-0-0-3');
      } finally {
        addr.close();
      }
      // The same name returns the same Activity; a residual is kept.
      assert.equal(namer.lookup(p('/default/grpc/echo')), activity);
      const withResidual = namer.lookup(p('/Default/GRPC/Echo/extra/bits'));
      const w2 = new Watching(withResidual);
      const b2 = await eventually('boundOf(withResidual)', () => boundOf(withResidual));
      assert.equal(b2.id.show(), '/#/io.l5d.k8s/default/grpc/echo', 'segments are lower-cased');
      assert.equal(b2.residual.show(), '/extra/bits');
      assert.equal(b2.addr, bound.addr, 'one address set per (namespace, port, service)');
      w2.close();
    } finally {
      act.close();
      namer.close();
    }
  }));

test('Neg for a missing service or port, empty bound set for zero ready endpoints, and recovery', () =>
  withApi(async (api) => {
    const { namer } = namerFor(api);
    const missing = namer.lookup(p('/default/grpc/nope'));
    const w1 = new Watching(missing);
    await eventually('Neg for a missing service', () => isNeg(missing), 5000);
    api.applyService('default', 'nope', [{ name: 'http', port: 80 }]);
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(isNeg(missing), 'port grpc absent from the Service is still Neg');
    api.applyService('default', 'nope', [{ name: 'http', port: 80 }, { name: 'grpc', port: 9090 }]);
    const bound = await eventually('bound after the port appears', () => boundOf(missing), 5000);
    const addr = new Watching(bound.addr);
    await eventually('empty set with no endpoints', () => sameSet(hostPorts(bound.addr.sample), []), 5000);
    api.applySlice('default', 'nope-1', 'nope', [ep('10.1.0.1', { ready: false })], [{ name: 'grpc', port: 9090 }]);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(hostPorts(bound.addr.sample), [], 'a not-ready endpoint is not used');
    api.applySlice('default', 'nope-1', 'nope', [ep('10.1.0.1', { ready: true })], [{ name: 'grpc', port: 9090 }]);
    await eventually('ready endpoint', () => sameSet(hostPorts(bound.addr.sample), ['10.1.0.1:9090']), 5000);
    api.delete('services', 'default', 'nope');
    await eventually('Neg after the Service is deleted', () => isNeg(missing), 5000);
    assert.equal(bound.addr.sample.type, 'neg');
    addr.close();
    w1.close();
    // Too few segments.
    assert.ok(isNeg(namer.lookup(p('/default/grpc'))));
    namer.close();
  }));

test('250 endpoints across 3 slices are all used; a DELETED slice removes its endpoints', () =>
  withApi(async (api) => {
    api.applyService('prod', 'big', [{ name: 'grpc', port: 50051 }]);
    const ips = (from: number, n: number) => Array.from({ length: n }, (_, i) => ep(`10.2.${Math.floor((from + i) / 250)}.${(from + i) % 250}`));
    api.applySlice('prod', 'big-a', 'big', ips(0, 100), [{ name: 'grpc', port: 50051 }]);
    api.applySlice('prod', 'big-b', 'big', ips(100, 100), [{ name: 'grpc', port: 50051 }]);
    api.applySlice('prod', 'big-c', 'big', ips(200, 50), [{ name: 'grpc', port: 50051 }]);
    const { namer } = namerFor(api);
    const a = namer.lookup(p('/prod/grpc/big'));
    const w = new Watching(a);
    const bound = await eventually('boundOf(a)', () => boundOf(a));
    const addr = new Watching(bound.addr);
    await eventually('250 endpoints', () => hostPorts(bound.addr.sample)?.length === 250, 5000);
    assert.equal(new Set(hostPorts(bound.addr.sample)).size, 250);
    api.delete('endpointslices', 'prod', 'big-b');
    await eventually('150 after DELETED', () => hostPorts(bound.addr.sample)?.length === 150, 5000);
    assert.ok(!hostPorts(bound.addr.sample)!.includes('10.2.0.150:50051'));
    // Modifying one slice leaves the others alone (not "every event is the full state").
    api.applySlice('prod', 'big-c', 'big', ips(200, 10), [{ name: 'grpc', port: 50051 }]);
    await eventually('110 after shrinking one slice', () => hostPorts(bound.addr.sample)?.length === 110, 5000);
    addr.close();
    w.close();
    namer.close();
  }));

test('endpoint conditions, IPv6, dual-stack slices and node/zone metadata', () =>
  withApi(async (api) => {
    api.applyService('default', 'cond', [{ name: 'grpc', port: 80, targetPort: 'grpc' }]);
    api.applySlice('default', 'cond-v4', 'cond', [
      ep('10.3.0.1', { ready: null, nodeName: 'node-a', zone: 'z1' }), // unset = ready
      ep('10.3.0.2', { ready: false, serving: true, terminating: true }), // terminating: nothing new
      ep('10.3.0.3', { ready: true, serving: true, terminating: true }), // publishNotReadyAddresses style: still terminating
      ep('10.3.0.4', { ready: false }),
    ], [{ name: 'grpc', port: 8080 }]);
    api.applySlice('default', 'cond-v6', 'cond', [ep('fd00::5', { nodeName: 'node-b' })], [{ name: 'grpc', port: 8080 }], 'IPv6');
    api.applySlice('default', 'cond-other-port', 'cond', [ep('10.3.0.9')], [{ name: 'metrics', port: 9100 }]);
    const { namer } = namerFor(api);
    const a = namer.lookup(p('/default/grpc/cond'));
    const w = new Watching(a);
    const bound = await eventually('boundOf(a)', () => boundOf(a));
    const addr = new Watching(bound.addr);
    await eventually('ready v4 + v6', () => sameSet(hostPorts(bound.addr.sample), ['10.3.0.1:8080', '[fd00::5]:8080']), 5000);
    const s = bound.addr.sample;
    assert.equal(s.type, 'bound');
    const v4 = s.type === 'bound' ? s.addrs.find((x) => x.host === '10.3.0.1')! : undefined;
    assert.deepEqual({ nodeName: v4?.meta.nodeName, zone: v4?.meta.zone }, { nodeName: 'node-a', zone: 'z1' });
    addr.close();
    w.close();
    namer.close();
  }));

test('numeric path port is a Service port mapped to its targetPort (numeric or named); names select the slice port', () =>
  withApi(async (api) => {
    // Service port 80 -> targetPort 8080 (numeric), port 81 -> targetPort "admin" (named), unnamed single-port service.
    api.applyService('default', 'multi', [
      { name: 'grpc', port: 80, targetPort: 8080 },
      { name: 'admin', port: 81, targetPort: 'admin-port' },
    ]);
    api.applySlice('default', 'multi-1', 'multi', [ep('10.4.0.1')], [{ name: 'grpc', port: 8080 }, { name: 'admin', port: 9901 }]);
    // A second slice where the named targetPort resolved to a different number for other pods.
    api.applySlice('default', 'multi-2', 'multi', [ep('10.4.0.2')], [{ name: 'grpc', port: 8080 }, { name: 'admin', port: 9902 }]);
    api.applyService('default', 'single', [{ port: 7000, targetPort: 7070 }]);
    api.applySlice('default', 'single-1', 'single', [ep('10.4.1.1')], [{ name: '', port: 7070 }]);
    const { namer } = namerFor(api);
    const cases: Array<[string, string[]]> = [
      ['/default/80/multi', ['10.4.0.1:8080', '10.4.0.2:8080']],
      ['/default/grpc/multi', ['10.4.0.1:8080', '10.4.0.2:8080']],
      ['/default/81/multi', ['10.4.0.1:9901', '10.4.0.2:9902']],
      ['/default/admin/multi', ['10.4.0.1:9901', '10.4.0.2:9902']],
      ['/default/7000/single', ['10.4.1.1:7070']],
    ];
    const watchers: Array<{ close(): void }> = [];
    for (const [path, want] of cases) {
      const a = namer.lookup(p(path));
      watchers.push(new Watching(a));
      const bound = await eventually(path, () => boundOf(a), 5000);
      watchers.push(new Watching(bound.addr));
      await eventually(`${path} -> ${want}`, () => sameSet(hostPorts(bound.addr.sample), want), 5000);
    }
    // 8080 is a targetPort, not a Service port: Neg (unlike kuberesolver, which dials it verbatim).
    const wrong = namer.lookup(p('/default/8080/multi'));
    watchers.push(new Watching(wrong));
    await eventually('Neg for a targetPort number', () => isNeg(wrong), 5000);
    assert.equal(namer.openWatches, 2, 'one watch pair per service whatever the ports');
    await eventually('two slice watches', () => api.openWatches('endpointslices') === 2, 5000);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(api.openWatches('endpointslices'), 2, 'and no more');
    for (const w of watchers) w.close();
    namer.close();
  }));

test('preferLocalNode keeps endpoints on this node, falling back to all when none is ready there', () =>
  withApi(async (api) => {
    api.applyService('default', 'loc', [{ name: 'grpc', port: 80 }]);
    api.applySlice('default', 'loc-1', 'loc', [ep('10.5.0.1', { nodeName: 'n1' }), ep('10.5.0.2', { nodeName: 'n2' })], [{ name: 'grpc', port: 80 }]);
    const { namer } = namerFor(api, { localNode: 'n1' });
    const a = namer.lookup(p('/default/grpc/loc'));
    const w = new Watching(a);
    const bound = await eventually('boundOf(a)', () => boundOf(a));
    const addr = new Watching(bound.addr);
    await eventually('local only', () => sameSet(hostPorts(bound.addr.sample), ['10.5.0.1:80']), 5000);
    api.applySlice('default', 'loc-1', 'loc', [ep('10.5.0.1', { nodeName: 'n1', ready: false }), ep('10.5.0.2', { nodeName: 'n2' })], [{ name: 'grpc', port: 80 }]);
    await eventually('fallback to all', () => sameSet(hostPorts(bound.addr.sample), ['10.5.0.2:80']), 5000);
    addr.close();
    w.close();
    namer.close();
  }));

test('one shared watch per (namespace, service); released after the idle TTL, restarted on demand', () =>
  withApi(async (api) => {
    api.applyService('default', 'shared', [{ name: 'grpc', port: 80 }]);
    api.applySlice('default', 'shared-1', 'shared', [ep('10.6.0.1')], [{ name: 'grpc', port: 80 }]);
    const { namer } = namerFor(api, { idleTtlMs: 1000 });
    const ws: Watching<any>[] = [];
    for (let i = 0; i < 20; i++) ws.push(new Watching(namer.lookup(p(`/default/${i % 2 ? 'grpc' : '80'}/shared/r${i}`))));
    await eventually('all bound', () => ws.every((w) => boundOf(w.v as never)), 5000);
    await eventually('watches open', () => api.openWatches('endpointslices') === 1 && api.openWatches('services') === 1, 5000);
    const lists = api.requests.filter((r) => r.path.endsWith('/endpointslices') && !r.watch).length;
    assert.equal(lists, 1, 'one list for twenty routes');
    for (const w of ws) w.close();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(api.openWatches('endpointslices'), 1, 'kept during the idle TTL');
    await eventually('released after idle TTL', () => api.openWatches() === 0 && namer.openWatches === 0, 8000);
    const again = new Watching(namer.lookup(p('/default/grpc/shared')));
    await eventually('bound again', () => boundOf(again.v as never), 5000);
    await eventually('watch reopened', () => api.openWatches('endpointslices') === 1, 5000);
    again.close();
    namer.close();
  }));

test('names clients choose cannot pile up watches: at most maxWatches, and a Service that does not exist is let go within seconds', () =>
  withApi(async (api) => {
    const clock = new FakeClock();
    const { namer, metrics } = namerFor(api, { idleTtlMs: 600_000, maxWatches: 3, clock });
    // A flood of made-up Services, one binding after another: idle watches make room for new ones.
    for (let i = 0; i < 10; i++) {
      const w = new Watching(namer.lookup(p(`/default/grpc/made-up-${i}`)));
      await eventually(`made-up-${i} is Neg`, () => isNeg(w.v as never), 5000);
      w.close();
      assert.ok(namer.openWatches <= 3, `${namer.openWatches} watches open`);
    }
    assert.ok(api.openWatches() <= 6, `${api.openWatches()} watches on the API server`);
    // With every watch in use, one more name fails, naming the limit, and the API server is not asked.
    const held = [0, 1, 2].map((i) => new Watching(namer.lookup(p(`/default/grpc/held-${i}`))));
    await eventually('held names answered', () => held.every((h) => isNeg(h.v as never)), 5000);
    const refused = new Watching(namer.lookup(p('/default/grpc/one-more')));
    const bound = await eventually('refused name answered', () => boundOf(refused.v as never), 5000);
    const addr = bound.addr.sample;
    assert.equal(addr.type, 'failed');
    assert.match(addr.type === 'failed' ? addr.cause : '', /too many Kubernetes watches in use \(maxWatches 3\): not watching default\/one-more/);
    assert.equal(namer.openWatches, 3);
    const trips = (await metrics.limitsReached.get()).values.find((v) => v.labels.limit === 'maxWatches')?.value ?? 0;
    assert.ok(trips >= 8, `maxWatches reached ${trips} times`);
    // Services that do not exist are released within seconds of their last use, not after idleTtlMs.
    for (const h of held) h.close();
    clock.advance(NEGATIVE_IDLE_TTL_MS - 1_000);
    assert.equal(namer.openWatches, 3, 'still held within the absent-Service TTL');
    clock.advance(2_000);
    assert.ok(namer.openWatches <= 1, 'the held absent Services were released');
    // The refused name, still in use, asks again once there is room: it is not refused for as long as it is used.
    clock.advance(REFUSED_RETRY_MAX_MS);
    await eventually('the refused name found its watch and answers', () => isNeg(refused.v as never), 5000);
    assert.equal(namer.openWatches, 1);
    const after = (await metrics.limitsReached.get()).values.find((v) => v.labels.limit === 'maxWatches')?.value ?? 0;
    assert.equal(after, trips, 'asking again is not a new refusal');
    refused.close();
    clock.advance(NEGATIVE_IDLE_TTL_MS * 1.25 + 1_000);
    await eventually('every absent Service released', () => namer.openWatches === 0 && api.openWatches() === 0, 2000);
  }));

test('a name refused a watch lets go of the watch it is admitted to when its last user leaves on the answer (no watch outlives its names)', () =>
  withApi(async (api) => {
    const clock = new FakeClock();
    const { namer } = namerFor(api, { idleTtlMs: 600_000, maxWatches: 1, clock });
    const other = new Watching(namer.lookup(p('/default/grpc/other')));
    await eventually('other is Neg', () => isNeg(other.v as never), 5000);
    // Refused while `other` holds the one watch; its user lets go once the Service turns out not to exist.
    const refused = namer.lookup(p('/default/grpc/gone'));
    let user: { close(): void } | undefined;
    user = refused.observe((state) => {
      if (state.status === 'ok' && state.value.kind === 'neg') user?.close();
    });
    assert.equal(boundOf(refused as never)?.addr.sample.type, 'failed');
    // Another port of the same Service takes the watch `other` leaves, so it is synced when the refused name asks again.
    other.close();
    const sibling = new Watching(namer.lookup(p('/default/http/gone')));
    await eventually('sibling is Neg', () => isNeg(sibling.v as never), 5000);
    clock.advance(REFUSED_RETRY_MAX_MS);
    assert.ok(isNeg(refused as never), 'admitted to the synced watch: Neg at once');
    sibling.close();
    clock.advance(NEGATIVE_IDLE_TTL_MS * 1.25 + 1_000);
    assert.equal(namer.openWatches, 0, 'nobody uses the watch: it is let go');
    await eventually('the API server watches closed', () => api.openWatches() === 0, 2000);
    namer.close();
  }));

test('a watch refused as full spends none of watchesPerSecond: after a flood of them, a new watch with room starts at once', () =>
  withApi(async (api) => {
    // The clock never moves: no token comes back but those given back.
    const clock = new FakeClock();
    const { namer, metrics } = namerFor(api, { idleTtlMs: 600_000, maxWatches: 1, clock, watchRate: { perSecond: 1, burst: 2 } });
    const held = new Watching(namer.lookup(p('/default/grpc/held')));
    await eventually('held is Neg', () => isNeg(held.v as never), 5000);
    // One token is left: each name of the flood finds it, and every watch is in use.
    for (let i = 0; i < 5; i++) {
      const flood = new Watching(namer.lookup(p(`/default/grpc/flood-${i}`)));
      const addr = boundOf(flood.v as never)?.addr.sample;
      assert.match(addr?.type === 'failed' ? addr.cause : JSON.stringify(addr), new RegExp(`\\(maxWatches 1\\): not watching default/flood-${i}$`));
      flood.close();
    }
    held.close();
    const next = new Watching(namer.lookup(p('/default/grpc/next')));
    await eventually('next is watched (the idle watch made room) and answers', () => isNeg(next.v as never), 5000);
    assert.equal((await metrics.limitsReached.get()).values.find((v) => v.labels.limit === 'watchesPerSecond')?.value ?? 0, 0, 'the rate never refused');
    next.close();
  }));

test("a refused name's error names the key of its own namers[] entry that refused it: maxWatches, maxNames, watchesPerSecond", () =>
  withApi(async (api) => {
    const entry = (prefix: string, limits: string[]) => [`- kind: io.l5d.k8s`, `  prefix: ${prefix}`, '  host: 127.0.0.1', `  port: ${api.port}`, ...limits.map((l) => `  ${l}`)];
    const { config } = parseConfig(
      ['namers:',
        ...entry('/#/k0', ['maxWatches: 1', 'watchesBurst: 2']),
        ...entry('/#/k1', ['maxNames: 2', 'watchesPerSecond: 1', 'watchesBurst: 1']),
        'routers:', '- protocol: h2', '  dtab: /svc => /#/k0', '  servers:', '  - port: 4140'].join('\n'),
    );
    const closers = new Closers(Logger.silent());
    try {
      const [k0, k1] = (await startNamers(config, { metrics: new Metrics({ processMetrics: false }), log: Logger.silent(), env: {} }, closers)).namers.map((n) => n.namer as K8sNamer);
      const use = (namer: K8sNamer | undefined, path: string) => new Watching(namer!.lookup(p(path)));
      const cause = (w: ReturnType<typeof use>) => {
        const addr = boundOf(w.v as never)?.addr.sample;
        return addr?.type === 'failed' ? addr.cause : JSON.stringify(addr);
      };
      // k0: one watch in use, a token left: the table refuses.
      const held0 = use(k0, '/default/grpc/a');
      const full = use(k0, '/default/grpc/b');
      assert.equal(cause(full), 'too many Kubernetes watches in use (namers[0].maxWatches 1): not watching default/b');
      // k1: the one token spent on a's watch: b waits for the rate; then its names table is full.
      const held1 = use(k1, '/default/grpc/a');
      const limited = use(k1, '/default/grpc/b');
      assert.equal(limited.current.status, 'pending');
      assert.match(JSON.stringify((k1!.state() as { names: unknown }).names), /new Kubernetes watches are over namers\[1\]\.watchesPerSecond: not watching default\/b yet/);
      const names = use(k1, '/default/grpc/c');
      assert.equal(cause(names), 'too many Kubernetes names in use (namers[1].maxNames 2): not discovering default/grpc/c');
      for (const w of [held0, full, held1, limited, names]) w.close();
    } finally {
      await closers.closeAll();
    }
  }));

test('a numeric port is one name whatever its spelling (080 is 80, as in Linkerd 1); a port no Service can have is Neg with no name made', () =>
  withApi(async (api) => {
    api.applyService('default', 'echo', [{ name: 'grpc', port: 80, targetPort: 8080 }]);
    api.applySlice('default', 'echo-1', 'echo', [ep('10.8.0.1')], [{ name: 'grpc', port: 8080 }]);
    const { namer } = namerFor(api);
    const watchers: Array<{ close(): void }> = [];
    const bounds: BoundName[] = [];
    for (const path of ['/default/80/echo', '/default/080/echo', '/default/0080/echo/extra', '/default/000000000000000000000080/echo']) {
      const a = namer.lookup(p(path));
      watchers.push(new Watching(a));
      bounds.push(await eventually(path, () => boundOf(a), 5000));
    }
    watchers.push(new Watching(bounds[0]!.addr));
    await eventually('endpoints', () => sameSet(hostPorts(bounds[0]!.addr.sample), ['10.8.0.1:8080']), 5000);
    for (const bound of bounds) {
      assert.equal(bound.id.show(), '/#/io.l5d.k8s/default/80/echo', 'the bound id names the canonical port');
      assert.equal(bound.addr, bounds[0]!.addr, 'one address set for every spelling');
    }
    assert.equal(bounds[2]!.residual.show(), '/extra');
    const names = () => Object.keys((namer.state() as { names: Record<string, unknown> }).names);
    assert.deepEqual(names(), ['default/80/echo']);
    // Numbers out of range and names the API server would refuse for a Service port: Neg now, no name, no watch.
    for (const path of ['/default/0/echo', '/default/00/echo', '/default/65536/echo', '/default/99999999999999999999/echo', '/default/-80/echo', '/default/bad_port/echo', `/default/${'a'.repeat(64)}/other`]) {
      assert.ok(isNeg(namer.lookup(p(path))), `${path} is Neg`);
    }
    assert.deepEqual(names(), ['default/80/echo']);
    assert.equal(namer.openWatches, 1);
    // io.l5d.k8s.ns reads its port segment the same way.
    const { namer: ns } = namerFor(api, { fixedNamespace: 'default' });
    const a = ns.lookup(p('/0080/echo'));
    watchers.push(new Watching(a));
    const nsBound = await eventually('ns bound', () => boundOf(a), 5000);
    assert.equal(nsBound.id.show(), '/#/io.l5d.k8s/80/echo');
    assert.equal(ns.lookup(p('/80/echo')), a, 'the same name, so the same Activity');
    for (const w of watchers) w.close();
  }));

test('names clients choose are at most maxNames: idle ones make room, and with every name in use a new one fails naming the limit', () =>
  withApi(async (api) => {
    api.applyService('default', 'echo', [{ name: 'grpc', port: 80 }, { name: 'admin', port: 81 }]);
    api.applySlice('default', 'echo-1', 'echo', [ep('10.9.0.1')], [{ name: 'grpc', port: 80 }, { name: 'admin', port: 81 }]);
    const { namer, metrics } = namerFor(api, { maxNames: 2 });
    const held = ['/default/grpc/echo', '/default/80/echo'].map((path) => new Watching(namer.lookup(p(path))));
    await eventually('held names bound', () => held.every((h) => boundOf(h.v as never)), 5000);
    const refused = new Watching(namer.lookup(p('/default/admin/echo')));
    const bound = await eventually('refused name answered', () => boundOf(refused.v as never), 5000);
    const addr = bound.addr.sample;
    assert.equal(addr.type, 'failed');
    assert.match(addr.type === 'failed' ? addr.cause : '', /too many Kubernetes names in use \(maxNames 2\): not discovering default\/admin\/echo/);
    assert.equal(Object.keys((namer.state() as { names: Record<string, unknown> }).names).length, 2);
    const trips = (await metrics.limitsReached.get()).values.find((v) => v.labels.limit === 'maxNames')?.value ?? 0;
    assert.equal(trips, 1);
    refused.close();
    // A name nobody uses any more makes room.
    held[0]!.close();
    const admitted = new Watching(namer.lookup(p('/default/admin/echo')));
    const b = await eventually('admitted once a name left', () => boundOf(admitted.v as never), 5000);
    const w = new Watching(b.addr);
    await eventually('its endpoints', () => sameSet(hostPorts(b.addr.sample), ['10.9.0.1:81']), 5000);
    for (const x of [w, admitted, held[1]!]) x.close();
  }));

/** Bind one name and watch its addresses; returns helpers for fault tests. */
async function boundEcho(api: KubeApiServer, extra: Parameters<typeof namerFor>[1] = {}) {
  api.applyService('default', 'echo', [{ name: 'grpc', port: 80 }]);
  api.applySlice('default', 'echo-1', 'echo', [ep('10.7.0.1')], [{ name: 'grpc', port: 80 }]);
  const { namer, metrics } = namerFor(api, extra);
  const a = namer.lookup(p('/default/grpc/echo'));
  const act = new Watching(a);
  const bound = await eventually('boundOf(a)', () => boundOf(a));
  const addr = new Watching(bound.addr);
  await eventually('initial endpoints', () => sameSet(hostPorts(bound.addr.sample), ['10.7.0.1:80']), 5000);
  await eventually('watches open', () => api.openWatches() === 2, 5000);
  return {
    namer,
    metrics,
    bound,
    addr,
    close() {
      addr.close();
      act.close();
      namer.close();
    },
  };
}

test('watch closed by the server: resumes from the last resourceVersion without relisting', () =>
  withApi(async (api) => {
    const t = await boundEcho(api);
    const listsBefore = api.requests.filter((r) => !r.watch && r.path.includes('endpointslices')).length;
    api.closeWatches();
    api.applySlice('default', 'echo-1', 'echo', [ep('10.7.0.1'), ep('10.7.0.2')], [{ name: 'grpc', port: 80 }]);
    await eventually('change seen after resume', () => sameSet(hostPorts(t.bound.addr.sample), ['10.7.0.1:80', '10.7.0.2:80']), 5000);
    const lastWatch = api.requests.filter((r) => r.watch && r.path.includes('endpointslices')).at(-1)!;
    assert.ok(Number(lastWatch.query.resourceVersion) > 1000, 'watch resumed from a resourceVersion');
    assert.equal(lastWatch.query.allowWatchBookmarks, 'true');
    assert.ok(Number(lastWatch.query.timeoutSeconds) > 0);
    assert.equal(api.requests.filter((r) => !r.watch && r.path.includes('endpointslices')).length, listsBefore, 'no relist');
    t.close();
  }));

test('bookmarks advance the resourceVersion, so a resume after compaction needs no relist', () =>
  withApi(async (api) => {
    const t = await boundEcho(api);
    api.applyService('default', 'unrelated', [{ port: 1 }]); // moves the global version on
    api.bookmark();
    await new Promise((r) => setTimeout(r, 100));
    api.compact(); // history up to now is gone, but the bookmark told us "now"
    const listsBefore = api.requests.filter((r) => !r.watch).length;
    api.closeWatches();
    api.applySlice('default', 'echo-1', 'echo', [ep('10.7.0.9')], [{ name: 'grpc', port: 80 }]);
    await eventually('change after bookmark resume', () => sameSet(hostPorts(t.bound.addr.sample), ['10.7.0.9:80']), 5000);
    assert.equal(api.requests.filter((r) => !r.watch).length, listsBefore, 'resumed from the bookmark, no relist');
    t.close();
  }));

for (const mode of ['event', 'status'] as const) {
  test(`410 Gone as ${mode === 'event' ? 'an ERROR event in a 200 stream' : 'an HTTP status'}: relist and converge`, () =>
    withApi(
      async (api) => {
        const t = await boundEcho(api);
        // The namer is disconnected while history moves on and is compacted away.
        await api.stop();
        api.applySlice('default', 'echo-1', 'echo', [ep('10.7.0.1'), ep('10.7.0.3')], [{ name: 'grpc', port: 80 }]);
        api.applySlice('default', 'echo-2', 'echo', [ep('10.7.0.4')], [{ name: 'grpc', port: 80 }]);
        api.compact();
        assert.ok(sameSet(hostPorts(t.bound.addr.sample), ['10.7.0.1:80']), 'last known endpoints kept while away');
        await api.restart();
        await eventually('converged after relist', () => sameSet(hostPorts(t.bound.addr.sample), ['10.7.0.1:80', '10.7.0.3:80', '10.7.0.4:80']), 8000);
        const gone = api.requests.filter((r) => r.watch && (mode === 'status' ? r.status === 410 : true));
        assert.ok(gone.length > 0);
        const reconnects = await t.metrics.namerReconnects.get();
        assert.ok(reconnects.values.some((v) => v.labels.reason === 'gone' && v.value > 0), 'a gone reconnect is counted');
        t.close();
      },
      { goneMode: mode },
    ));
}

test('410 ERROR event pushed into open watches (compaction while connected): relist', () =>
  withApi(async (api) => {
    const t = await boundEcho(api);
    api.compact(true);
    api.applySlice('default', 'echo-1', 'echo', [ep('10.7.0.5')], [{ name: 'grpc', port: 80 }]);
    await eventually('converged', () => sameSet(hostPorts(t.bound.addr.sample), ['10.7.0.5:80']), 5000);
    t.close();
  }));

test('API server restarted mid-watch: last endpoints kept, then converges', () =>
  withApi(async (api) => {
    const t = await boundEcho(api);
    const seen = t.addr.values.length;
    await api.stop();
    await new Promise((r) => setTimeout(r, 300)); // several failed reconnects with backoff
    assert.ok(sameSet(hostPorts(t.bound.addr.sample), ['10.7.0.1:80']), 'never flaps to empty while the API is away');
    assert.equal(t.addr.values.length, seen, 'no address updates while disconnected');
    api.applySlice('default', 'echo-1', 'echo', [ep('10.7.0.6')], [{ name: 'grpc', port: 80 }]);
    await api.restart();
    await eventually('converged after restart', () => sameSet(hostPorts(t.bound.addr.sample), ['10.7.0.6:80']), 8000);
    t.close();
  }));

test('403: a log line names the missing RBAC verb and resource; last endpoints kept; converges once granted', () =>
  withApi(async (api) => {
    const { log, lines } = capturingLogger();
    const t = await boundEcho(api, { log });
    let denied = true;
    api.authorizer = (verb, resource) => !(denied && resource === 'endpointslices' && (verb === 'watch' || verb === 'list'));
    api.compact(true); // forces a relist, which is now forbidden
    await eventually('RBAC log line', () => lines.some((l) => l.includes('"list"') && l.includes('endpointslices') && l.includes('forbidden')), 5000);
    const line = lines.find((l) => l.includes('forbidden'))!;
    assert.match(line, /RBAC verb \\"list\\" on resource \\"endpointslices\\" \(apiGroups: \[\\"discovery.k8s.io\\"\]\) in namespace \\"default\\"/);
    api.applySlice('default', 'echo-1', 'echo', [ep('10.7.0.7')], [{ name: 'grpc', port: 80 }]);
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(sameSet(hostPorts(t.bound.addr.sample), ['10.7.0.1:80']), 'kept while forbidden');
    const state = JSON.stringify(t.namer.state());
    assert.match(state, /forbidden/);
    denied = false;
    await eventually('converged once granted', () => sameSet(hostPorts(t.bound.addr.sample), ['10.7.0.7:80']), 8000);
    t.close();
  }));

test('watch events, reconnects and last sync are counted in metrics', () =>
  withApi(async (api) => {
    const t = await boundEcho(api);
    api.applySlice('default', 'echo-1', 'echo', [ep('10.7.0.8')], [{ name: 'grpc', port: 80 }]);
    await eventually("sameSet(hostPorts(t.bound.addr.sample), ['10.7.0.8:80'])", () => sameSet(hostPorts(t.bound.addr.sample), ['10.7.0.8:80']));
    const text = await t.metrics.registry.metrics();
    assert.match(text, /kgr_namer_watch_events_total\{namer="\/#\/io.l5d.k8s",type="MODIFIED"\} [1-9]/);
    assert.match(text, /kgr_namer_last_sync_timestamp_seconds\{namer="\/#\/io.l5d.k8s"\} \d/);
    t.close();
  }));

test('lists page with limit/continue; an expired continue token restarts the list', () =>
  withApi(async (api) => {
    api.applyService('default', 'paged', [{ name: 'grpc', port: 80 }]);
    for (let i = 0; i < 7; i++) api.applySlice('default', `paged-${i}`, 'paged', [{ ip: `10.8.0.${i}` }], [{ name: 'grpc', port: 80 }]);
    const { namer } = namerFor(api, { pageSize: 3 });
    const a = namer.lookup(p('/default/grpc/paged'));
    const w = new Watching(a);
    const bound = await eventually('boundOf(a)', () => boundOf(a));
    const addr = new Watching(bound.addr);
    await eventually('all pages', () => hostPorts(bound.addr.sample)?.length === 7, 5000);
    const pages = api.requests.filter((r) => !r.watch && r.path.endsWith('/endpointslices'));
    assert.equal(pages.length, 3, 'three pages of at most 3');
    assert.ok(pages.every((r) => r.query.limit === '3'));
    assert.ok(pages.slice(1).every((r) => r.query.continue));
    addr.close();
    w.close();
    namer.close();
  }));

test('a watch that goes silent past its timeout (half-open connection) is abandoned and re-established', () =>
  withApi(async (api) => {
    const t = await boundEcho(api, { watchTimeoutSecs: 1, stallGraceSecs: 0.5 });
    api.freezeWatches();
    api.applySlice('default', 'echo-1', 'echo', [ep('10.7.1.1')], [{ name: 'grpc', port: 80 }]);
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(sameSet(hostPorts(t.bound.addr.sample), ['10.7.0.1:80']), 'the frozen watch delivers nothing');
    await eventually('recovered through a new watch', () => sameSet(hostPorts(t.bound.addr.sample), ['10.7.1.1:80']), 8000);
    const reconnects = await t.metrics.namerReconnects.get();
    assert.ok(reconnects.values.some((v) => v.labels.reason === 'stalled' && v.value > 0), 'counted as stalled');
    t.close();
  }));

/**
 * The reflector's stall timer gave up a watch through a handle that came only with the answer's
 * headers: a request the server accepted and never answered stayed open, one more at every stall.
 */
test('a watch whose answer never comes is given up at its stall, not kept beside the next one', () =>
  withApi(async (api) => {
    const t = await boundEcho(api, { watchTimeoutSecs: 1, stallGraceSecs: 0.2 });
    api.unansweredWatches = true;
    api.closeWatches();
    // Each of the name's two watches (its Service, its EndpointSlices) stalls at least twice.
    await eventually('watches asked and stalled twice over', () => api.watchesUnanswered >= 6, 15_000);
    await eventually('only the latest unanswered request of each reflector is open', () => api.openUnansweredWatches() <= 2, 5000);
    api.unansweredWatches = false;
    t.close();
  }));

test('new watches start at most watchesPerSecond after a burst: a name over it stays pending, saying why, and is watched once it may', () =>
  withApi(async (api) => {
    const clock = new FakeClock();
    const { namer, metrics } = namerFor(api, { clock, watchRate: { perSecond: 1, burst: 2 } });
    const names = ['a', 'b', 'c'].map((s) => new Watching(namer.lookup(p(`/default/grpc/${s}`))));
    await eventually('the burst is watched and answers', () => isNeg(names[0]!.v as never) && isNeg(names[1]!.v as never), 5000);
    // The third waits pending: no watch, no request to the API server, and its state says why.
    assert.equal(names[2]!.current.status, 'pending');
    assert.equal(namer.openWatches, 2);
    assert.ok(api.openWatches() <= 4, `${api.openWatches()} watches on the API server`);
    const state = namer.state() as { names: Record<string, { state: string; lastError?: string }> };
    assert.match(state.names['default/grpc/c']?.lastError ?? '', /over watchesPerSecond: not watching default\/c yet/);
    const trips = (await metrics.limitsReached.get()).values.find((v) => v.labels.limit === 'watchesPerSecond')?.value ?? 0;
    assert.equal(trips, 1);
    // Names of a Service already watched take no token.
    const sibling = new Watching(namer.lookup(p('/default/http/a')));
    assert.ok(isNeg(sibling.v as never), 'a watched Service answers at once');
    // A second later a token is there; the name asks again within REFUSED_RETRY_MAX_MS.
    clock.advance(REFUSED_RETRY_MAX_MS);
    await eventually('the third name is watched and answers', () => isNeg(names[2]!.v as never), 5000);
    assert.equal(namer.openWatches, 3);
    assert.equal((await metrics.limitsReached.get()).values.find((v) => v.labels.limit === 'watchesPerSecond')?.value, 1, 'asking again is not a new refusal');
    for (const w of [...names, sibling]) w.close();
  }));
