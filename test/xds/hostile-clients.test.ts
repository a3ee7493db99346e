import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { Logger } from '../../src/util/log.js';
import { NACK_LOG_LINES_PER_WINDOW, NACK_LOG_STREAM_INTERVAL_MS } from '../../src/xds/nack-log.js';
import { FakeClock } from '../support/fake-clock.js';
import { eventually } from '../support/eventually.js';
import { AdsClient, metric, withControl } from './harness.js';

/**
 * What one client of the control plane may make it hold, driven by real clients (grpc-js, and
 * node:http2 for what grpc-js would not send): a partial message, streams, subscriptions, NACK lines.
 */


const ADS_PATH = '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources';

test('a request may be only as large as maxNamesPerStream names of the longest length: a larger one is refused at its header, and a connection carries at most 100 streams', async () => {
  await withControl({ xdsExtra: 'maxNamesPerStream: 10' }, async (c, client) => {
    // The largest request a client needs still fits: 10 names of 1,024 bytes.
    const full = new AdsClient(client);
    const names = Array.from({ length: 10 }, (_, i) => `${i}`.padEnd(1024, 'a'));
    full.request('listener', names);
    await full.nextOf('listener');
    full.cancel();

    // A message declared one byte larger is refused before a byte of it is kept (grpc-js used to buffer up to 4 MiB).
    const session = http2.connect(`http://${c.address}`);
    try {
      const settings = await new Promise<http2.Settings>((resolve) => session.once('remoteSettings', resolve));
      assert.equal(settings.maxConcurrentStreams, 100);
      const stream = session.request({ ':method': 'POST', ':path': ADS_PATH, 'content-type': 'application/grpc', te: 'trailers' });
      const head = Buffer.alloc(5);
      // The bound: 10 names × (1,024 bytes + a 3-byte field header) + 64 KiB for the rest.
      head.writeUInt32BE(10 * 1027 + 64 * 1024 + 1, 1);
      stream.write(head);
      stream.write(Buffer.alloc(16 * 1024, 0x41));
      stream.resume();
      const status = await new Promise<string>((resolve, reject) => {
        stream.on('response', (h) => h['grpc-status'] !== undefined && resolve(`${h['grpc-status']} ${h['grpc-message']}`));
        stream.on('trailers', (t) => resolve(`${t['grpc-status']} ${t['grpc-message']}`));
        stream.on('error', reject);
        setTimeout(() => reject(new Error('no status within 5 s: the partial message is being kept')), 5000).unref();
      });
      assert.match(status, new RegExp(`^${grpc.status.RESOURCE_EXHAUSTED} `), status);
    } finally {
      session.destroy();
    }
  });
});

test('xds.maxStreamsPerClient: one client address cannot take every stream slot; a slot comes back when its stream ends', async () => {
  await withControl({ xdsExtra: 'maxStreamsPerClient: 2' }, async (c, client) => {
    const one = new AdsClient(client);
    const two = new AdsClient(client);
    one.request('listener', ['a.A']);
    two.request('listener', ['a.A']);
    await one.nextOf('listener');
    await two.nextOf('listener');
    const three = new AdsClient(client);
    three.request('listener', ['a.A']);
    const refused = await three.status;
    assert.equal(refused.code, grpc.status.RESOURCE_EXHAUSTED);
    assert.match(refused.details, /this client has 2 streams open \(xds\.maxStreamsPerClient\)/);
    assert.equal(await metric(c, 'kgr_limits_reached_total', 'limit="xds.maxStreamsPerClient"'), 1);
    one.cancel();
    await eventually('the stream ended', () => c.plane.xds.streamCount === 1, 5000);
    const again = new AdsClient(client);
    again.request('listener', ['a.A']);
    await again.nextOf('listener');
    for (const s of [two, again]) s.cancel();
  });
});

test('xds.maxSubscriptionsPerClient counts names over all of a client\'s streams and types; xds.maxSubscriptions over all clients; both come back when names are dropped', async () => {
  await withControl({ xdsExtra: 'maxSubscriptionsPerClient: 4, maxSubscriptions: 100' }, async (c, client) => {
    const one = new AdsClient(client);
    one.request('listener', ['a.A', 'b.B']);
    await one.nextOf('listener');
    const two = new AdsClient(client);
    two.request('cluster', ['/#/io.l5d.fs/a']);
    await two.nextOf('cluster');
    assert.equal(c.plane.xds.subscriptionCount, 3);
    // Replacing names costs nothing more: the dropped ones are given back first.
    one.request('listener', ['c.C', 'd.D']);
    await one.nextOf('listener');
    assert.equal(c.plane.xds.subscriptionCount, 3);
    two.request('route', ['a.A', 'b.B']);
    const refused = await two.status;
    assert.equal(refused.code, grpc.status.RESOURCE_EXHAUSTED);
    assert.match(refused.details, /this client follows at most 4 names over its streams \(xds\.maxSubscriptionsPerClient\); cannot follow 2 more route names/);
    await eventually('the refused stream let go of its names', () => c.plane.xds.subscriptionCount === 2, 5000);
    one.cancel();
    await eventually('every subscription given back', () => c.plane.xds.subscriptionCount === 0, 5000);
    assert.equal(await metric(c, 'kgr_limits_reached_total', 'limit="xds.maxSubscriptionsPerClient"'), 1);
  });
  await withControl({ xdsExtra: 'maxSubscriptionsPerClient: 100, maxSubscriptions: 2' }, async (c, client) => {
    const s = new AdsClient(client);
    s.request('listener', ['a.A', 'b.B', 'c.C']);
    const refused = await s.status;
    assert.equal(refused.code, grpc.status.RESOURCE_EXHAUSTED);
    assert.match(refused.details, /the control plane follows at most 2 names over all streams \(xds\.maxSubscriptions\)/);
    assert.equal(await metric(c, 'kgr_limits_reached_total', 'limit="xds.maxSubscriptions"'), 1);
    assert.equal(c.plane.xds.subscriptionCount, 0);
  });
});

test('/xds/subscribers.json?limit=1 lists the names of the one row it returns only', async () => {
  await withControl({}, async (c, client) => {
    const streams = ['a', 'b', 'c'].map((n) => new AdsClient(client, `node-${n}`));
    for (const s of streams) s.request('listener', ['a.A', 'b.B', 'c.C']);
    for (const s of streams) await s.nextOf('listener');
    // Count the names each subscriber is asked for, on the real server's rows.
    const xds = c.plane.xds;
    const subscribers = xds.subscribers.bind(xds);
    let listed = 0;
    xds.subscribers = () => subscribers().map((s) => ({ ...s, names: (type: string, limit?: number) => ((listed += 1), s.names(type, limit)) }));
    const res = await fetch(`http://127.0.0.1:${c.plane.admin.port}/xds/subscribers.json?limit=1`);
    const view = (await res.json()) as { subscribers: { types: { listener: { names: string[]; nameCount: number } } }[]; totals: { subscriptions: number } };
    assert.equal(view.subscribers.length, 1);
    assert.deepEqual(view.subscribers[0]!.types.listener.names, ['a.A', 'b.B', 'c.C']);
    assert.equal(view.totals.subscriptions, 9);
    assert.equal(listed, 1, 'one row, one type: the names of one stream were listed');
    for (const s of streams) s.cancel();
  });
});

test('NACK lines are rate-limited per stream and over the process, each saying how many went unlogged; every NACK is still counted; stream ends log at debug', async () => {
  const lines: Record<string, unknown>[] = [];
  const log = Logger.create({ level: 'info', sink: { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) } });
  const clock = new FakeClock(1_000_000);
  const nacks = () => lines.filter((l) => l.msg === 'xDS client rejected a response (NACK)');
  await withControl({ log, clock }, async (c, client) => {
    const s = new AdsClient(client, 'node-nack');
    s.request('listener', ['a.A']);
    const lds = await s.nextOf('listener');
    for (let i = 0; i < 50; i++) s.request('listener', ['a.A'], lds.response, `rejected ${i} ${'x'.repeat(1990)}`);
    // A request answered after the NACKs: they have all been read.
    s.request('cluster', ['/#/io.l5d.fs/a']);
    await s.nextOf('cluster');
    assert.equal(await metric(c, 'kgr_xds_nacks_total', 'type="listener"'), 50);
    assert.equal(nacks().length, 1, 'one line for 50 different NACKs on one stream');
    clock.advance(NACK_LOG_STREAM_INTERVAL_MS);
    s.request('listener', ['a.A'], lds.response, 'rejected once more');
    s.request('cluster', []);
    await s.nextOf('cluster');
    assert.equal(nacks().length, 2);
    assert.equal(nacks()[1]!.notLogged, 49);
    assert.equal(nacks()[1]!.error, 'rejected once more');

    // Over the process: each of many streams NACKing once writes at most NACK_LOG_LINES_PER_WINDOW lines per window.
    const many = Array.from({ length: NACK_LOG_LINES_PER_WINDOW + 5 }, (_, i) => new AdsClient(client, `node-${i}`));
    for (const m of many) m.request('listener', ['a.A']);
    const responses = await Promise.all(many.map((m) => m.nextOf('listener')));
    clock.advance(NACK_LOG_STREAM_INTERVAL_MS);
    many.forEach((m, i) => m.request('listener', ['a.A'], responses[i]!.response, `bad ${i}`));
    for (const m of many) m.request('cluster', []);
    for (const m of many) await m.nextOf('cluster');
    assert.equal(nacks().length, 2 + NACK_LOG_LINES_PER_WINDOW);
    clock.advance(NACK_LOG_STREAM_INTERVAL_MS);
    s.request('listener', ['a.A'], lds.response, 'after the window');
    s.request('cluster', ['/#/io.l5d.fs/b']);
    await s.nextOf('cluster');
    assert.equal(nacks().at(-1)!.notLogged, 5);

    // A stream ended for a bad request is counted, and not an info line.
    const bad = new AdsClient(client);
    bad.request('listener', ['not a service']);
    assert.equal((await bad.status).code, grpc.status.INVALID_ARGUMENT);
    assert.equal(lines.filter((l) => l.msg === 'xDS stream ended').length, 0);
    for (const m of [s, ...many]) m.cancel();
  });
});
