import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { rmSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { lbClient, LbStream, startLb, type LbHarness } from './harness.js';

/**
 * The grpclb protocol driven message by message with grpc-js against a real router process: names
 * bound through its live dtab file and fs namer, endpoint changes made by writing the namer's files
 * (the namer's file watch is the event), and what each stream is sent checked as it arrives.
 */

async function withLb(options: Parameters<typeof startLb>[0], body: (lb: LbHarness, client: grpc.Client) => Promise<void>): Promise<void> {
  const lb = await startLb(options);
  const client = lbClient(lb.lbAddress);
  try {
    await body(lb, client);
  } finally {
    client.close();
    await lb.close();
  }
}

async function open(client: grpc.Client, name: string): Promise<LbStream> {
  const s = new LbStream(client);
  s.send({ initial_request: { name } });
  const first = await s.next();
  assert.equal(first.load_balance_response_type, 'initial_response', 'the first response is initial_response');
  return s;
}

test('a stream gets the endpoints of /svc/<name> at once, and every change on the open stream: scale-out, scale-in, to zero and back', async () => {
  await withLb({}, async (lb, client) => {
    lb.endpoints('echo-lb.default', ['127.0.0.1 9001', '127.0.0.1 9002']);
    const s = new LbStream(client);
    // The port a client dialled is not part of the name.
    s.send({ initial_request: { name: 'echo-lb.default:8080' } });
    const initial = await s.next();
    assert.equal(initial.load_balance_response_type, 'initial_response');
    assert.equal(initial.initial_response!.load_balancer_delegate, '', 'no delegation');
    assert.deepEqual(initial.initial_response!.client_stats_report_interval, { seconds: 10, nanos: 0 }, 'reports asked for every 10 s (the default)');
    const first = await s.next();
    assert.deepEqual(
      first.server_list!.servers.map((x) => ({ ...x, ip_address: [...x.ip_address] })),
      [
        { ip_address: [127, 0, 0, 1], port: 9001, load_balance_token: '', drop: false },
        { ip_address: [127, 0, 0, 1], port: 9002, load_balance_token: '', drop: false },
      ],
      'IPv4 as 4 bytes, no tokens, no drops',
    );

    const pushed = async (what: string, change: () => void, expected: string[]) => {
      change();
      assert.deepEqual(await s.nextList(10_000), expected, what);
    };
    await pushed('scale-out', () => lb.endpoints('echo-lb.default', ['127.0.0.1 9001', '127.0.0.1 9002', '127.0.0.1 9003']), ['127.0.0.1:9001', '127.0.0.1:9002', '127.0.0.1:9003']);
    await pushed('scale-in: the removed pod leaves at once', () => lb.endpoints('echo-lb.default', ['127.0.0.1 9002', '127.0.0.1 9003']), ['127.0.0.1:9002', '127.0.0.1:9003']);
    await pushed('scale to zero', () => lb.endpoints('echo-lb.default', []), []);
    await pushed('back from zero', () => lb.endpoints('echo-lb.default', ['127.0.0.1 9004']), ['127.0.0.1:9004']);
    // The service vanishing (Neg) empties the list on an open stream; its return fills it again.
    await pushed('the service goes away', () => rmSync(join(lb.dir, 'endpoints', 'echo-lb.default')), []);
    await pushed('and comes back', () => lb.endpoints('echo-lb.default', ['127.0.0.1 9005']), ['127.0.0.1:9005']);
    assert.equal(s.buffered, 0, 'nothing but the changes was sent');
    s.cancel();
  });
});

test('grpclb clients get what router clients get: the live dtab decides, a weighted union becomes repeated entries, IPv6 is 16 bytes', async () => {
  const dtab = '/svc => /#/io.l5d.fs;\n/svc/web => 0.75 * /#/io.l5d.fs/web-v1 & 0.25 * /#/io.l5d.fs/web-v2;\n';
  await withLb({ dtab, endpoints: { 'web-v1': ['127.0.0.1 9001'], 'web-v2': ['::1 9002'] } }, async (lb, client) => {
    const s = await open(client, 'web');
    assert.deepEqual(await s.nextList(), ['127.0.0.1:9001', '127.0.0.1:9001', '[0:0:0:0:0:0:0:1]:9002', '127.0.0.1:9001'], '3:1, interleaved');
    // A new live dtab re-binds the name: the stream follows it.
    lb.dtab('/svc => /#/io.l5d.fs;\n/svc/web => /#/io.l5d.fs/web-v2;\n');
    assert.deepEqual(await s.nextList(1000), ['[0:0:0:0:0:0:0:1]:9002']);
    // Weights from discovery (fs namer `* weight`) count as the router's balancer counts them.
    lb.endpoints('web-v2', ['::1 9002 * 2', '127.0.0.2 9003']);
    assert.deepEqual(await s.nextList(1000), ['[0:0:0:0:0:0:0:1]:9002', '127.0.0.2:9003', '[0:0:0:0:0:0:0:1]:9002'], '2:1, interleaved');
    s.cancel();
  });
});

test('client stats are accepted and counted, with no per-name series', async () => {
  await withLb({ grpclbExtra: 'clientStatsIntervalSecs: 1', endpoints: { echo: ['127.0.0.1 9001'] } }, async (lb, client) => {
    const s = new LbStream(client);
    s.send({ initial_request: { name: 'echo' } });
    const initial = await s.next();
    assert.deepEqual(initial.initial_response!.client_stats_report_interval, { seconds: 1, nanos: 0 });
    assert.deepEqual(await s.nextList(), ['127.0.0.1:9001']);
    const report = {
      num_calls_started: 7,
      num_calls_finished: 6,
      num_calls_finished_with_client_failed_to_send: 1,
      num_calls_finished_known_received: 5,
      calls_finished_with_drop: [{ load_balance_token: 'x', num_calls: 2 }],
    };
    s.send({ client_stats: report });
    s.send({ client_stats: { ...report, calls_finished_with_drop: [] } });
    // An endpoint change after the reports: once it arrives, the server has read the reports too
    // (one stream's messages are handled in order).
    lb.endpoints('echo', ['127.0.0.1 9002']);
    assert.deepEqual(await s.nextList(1000), ['127.0.0.1:9002']);
    const text = await lb.metrics.registry.metrics();
    const value = (series: string) => Number(new RegExp(`^${series.replace(/[{}"]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1]);
    assert.equal(value('kgr_grpclb_client_stats_total'), 2);
    assert.equal(value('kgr_grpclb_client_calls_total{kind="started"}'), 14);
    assert.equal(value('kgr_grpclb_client_calls_total{kind="finished"}'), 12);
    assert.equal(value('kgr_grpclb_client_calls_total{kind="failed_to_send"}'), 2);
    assert.equal(value('kgr_grpclb_client_calls_total{kind="known_received"}'), 10);
    assert.equal(value('kgr_grpclb_client_calls_total{kind="dropped"}'), 2);
    assert.equal(value('kgr_grpclb_streams'), 1);
    assert.equal(value('kgr_table_entries{table="grpclb names"}'), 1);
    assert.ok(!text.includes('echo'), 'no series is labelled with a name');
    s.cancel();
    await s.status;
  });
});

test('shutdown ends every stream UNAVAILABLE so clients move to another balancer, and refuses new ones', async () => {
  const lb = await startLb({ endpoints: { echo: ['127.0.0.1 9001'] } });
  const client = lbClient(lb.lbAddress);
  try {
    const s = await open(client, 'echo');
    assert.deepEqual(await s.nextList(), ['127.0.0.1:9001']);
    const done = lb.proc.shutdown('test');
    const status = await s.status;
    assert.equal(status.code, grpc.status.UNAVAILABLE);
    assert.match(status.details, /shutting down/);
    await done;
  } finally {
    client.close();
    await lb.close();
  }
});

test('a grpclb port already in use fails the start, naming the address', async () => {
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const port = (blocker.address() as net.AddressInfo).port;
  try {
    await assert.rejects(startLb({ lbPort: port }), new RegExp(`grpclb: cannot listen on 127.0.0.1:${port}`));
  } finally {
    blocker.close();
  }
});
