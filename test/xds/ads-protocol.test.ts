import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { Logger } from '../../src/util/log.js';
import { AdsClient, metric, withControl } from './harness.js';

/**
 * The ADS protocol driven message by message with a raw grpc-js client (the service from the
 * vendored protos) against a control plane with an fs namer and a live dtab file: what each
 * resource holds, versions and nonces, ACK and NACK, names that do not exist, malformed requests
 * and the limits.
 */


const WEIGHTED = '/svc => /#/io.l5d.fs;\n/svc/echo.Echo => 9 * /#/io.l5d.fs/stable & 1 * /#/io.l5d.fs/canary;\n';

test('Listener → RouteConfiguration → Cluster → ClusterLoadAssignment: each as gRPC requires, versions and nonces per type, an ACK answered by nothing, a change pushed', async () => {
  await withControl({ dtab: WEIGHTED, endpoints: { stable: ['127.0.0.1 9001', '127.0.0.1 9002'], canary: ['127.0.0.1 9003'] } }, async (c, client) => {
    const s = new AdsClient(client);
    s.request('listener', ['echo.Echo']);
    const lds = await s.nextOf('listener');
    assert.equal(lds.response.version_info, '1');
    assert.deepEqual(lds.resources, [
      {
        name: 'echo.Echo',
        api_listener: {
          api_listener: {
            codec_type: 'AUTO',
            stat_prefix: 'echo.Echo',
            rds: { config_source: { ads: {}, config_source_specifier: 'ads', resource_api_version: 'V3' }, route_config_name: 'echo.Echo' },
            route_specifier: 'rds',
            http_filters: [{ name: 'envoy.filters.http.router', config_type: 'typed_config', typed_config: { type_url: 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
          },
        },
      },
    ]);
    s.request('listener', ['echo.Echo'], lds.response);
    // The ACK gets no answer: the next response is the route asked for after it.
    s.request('route', ['echo.Echo']);
    const rds = await s.nextOf('route');
    assert.equal(rds.response.version_info, '1', 'versions count per type');
    assert.notEqual(rds.response.nonce, lds.response.nonce, 'nonces are unique on the stream');
    assert.deepEqual(rds.resources[0]!.virtual_hosts[0].routes, [
      {
        name: 'echo.Echo',
        match: { prefix: '/echo.Echo/', path_specifier: 'prefix' },
        action: 'route',
        route: {
          cluster_specifier: 'weighted_clusters',
          weighted_clusters: {
            clusters: [
              { name: '/#/io.l5d.fs/canary', weight: { value: 1000 } },
              { name: '/#/io.l5d.fs/stable', weight: { value: 9000 } },
            ],
            total_weight: { value: 10000 },
          },
        },
      },
    ]);
    assert.deepEqual(rds.resources[0]!.virtual_hosts[0].domains, ['*']);
    s.request('route', ['echo.Echo'], rds.response);

    const clusters = ['/#/io.l5d.fs/canary', '/#/io.l5d.fs/stable'];
    s.request('cluster', clusters);
    const cds = await s.nextOf('cluster');
    assert.deepEqual(
      cds.resources.map((r) => [r.name, r.type, r.lb_policy ?? 'ROUND_ROBIN', r.eds_cluster_config.service_name, r.eds_cluster_config.eds_config.resource_api_version]),
      clusters.map((n) => [n, 'EDS', 'ROUND_ROBIN', n, 'V3']),
    );
    s.request('cluster', clusters, cds.response);
    s.request('endpoint', clusters);
    const eds = await s.nextOf('endpoint');
    const stable = eds.resources.find((r) => r.cluster_name === '/#/io.l5d.fs/stable')!;
    assert.deepEqual(stable.endpoints, [
      {
        locality: {},
        load_balancing_weight: { value: 200 },
        lb_endpoints: [9001, 9002].map((port) => ({
          endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port, port_specifier: 'port_value' }, address: 'socket_address' } },
          host_identifier: 'endpoint',
          health_status: 'HEALTHY',
          load_balancing_weight: { value: 100 },
        })),
      },
    ]);
    s.request('endpoint', clusters, eds.response);

    // A pod joins: only the endpoints are re-sent (the Cluster encodes the same).
    c.endpoints('stable', ['127.0.0.1 9001', '127.0.0.1 9002', '127.0.0.1 9004']);
    const pushed = await s.nextOf('endpoint', 1000);
    assert.equal(pushed.response.version_info, '2');
    assert.equal(pushed.resources.find((r) => r.cluster_name === '/#/io.l5d.fs/stable')!.endpoints[0].lb_endpoints.length, 3);
    assert.equal(await metric(c, 'kgr_xds_acks_total', 'type="endpoint"'), 1);
    s.request('endpoint', clusters, pushed.response);
    // The dtab changes: the route is re-sent (the one cluster left: `cluster`, not weighted).
    c.dtab('/svc => /#/io.l5d.fs;\n/svc/echo.Echo => /#/io.l5d.fs/stable;\n');
    const moved = await s.nextOf('route', 1000);
    assert.equal(moved.resources[0]!.virtual_hosts[0].routes[0].route.cluster, '/#/io.l5d.fs/stable');
    assert.equal(s.buffered, 0, 'nothing but the changes was sent');
    s.cancel();
  });
});

test('names that do not exist are left out of the answer (xDS "does not exist"), the stream lives on, and they appear when they come to exist', async () => {
  await withControl({ endpoints: { 'known.Service': ['127.0.0.1 9001'] } }, async (c, client) => {
    const s = new AdsClient(client);
    s.request('listener', ['nope.Service']);
    const empty = await s.nextOf('listener');
    assert.deepEqual(empty.resources, [], 'an empty answer');
    s.request('listener', ['nope.Service', 'known.Service'], empty.response);
    assert.deepEqual((await s.nextOf('listener')).resources.map((r) => r.name), ['known.Service']);
    s.request('endpoint', ['/#/io.l5d.fs/later', '/$/inet/127.0.0.1/9009']);
    const eds = await s.nextOf('endpoint');
    assert.deepEqual(eds.resources.map((r) => r.cluster_name), ['/$/inet/127.0.0.1/9009'], 'any namer path, /$/inet included');
    s.request('endpoint', ['/#/io.l5d.fs/later', '/$/inet/127.0.0.1/9009'], eds.response);
    c.endpoints('later', ['127.0.0.1 9002']);
    // EDS: only the assignment that came to exist; the client keeps the one it has.
    assert.deepEqual((await s.nextOf('endpoint', 1000)).resources.map((r) => r.cluster_name), ['/#/io.l5d.fs/later']);
    assert.equal(s.ended, undefined);
    s.cancel();
  });
});

test('a NACK is logged with the node id and error detail and counted; the rejected response is not sent again until something changes', async () => {
  const lines: string[] = [];
  const log = Logger.create({ level: 'info', sink: { write: (l: string) => void lines.push(l) } });
  await withControl({ endpoints: { 'echo.Echo': ['127.0.0.1 9001'] }, log }, async (c, client) => {
    const s = new AdsClient(client, 'node-7');
    s.request('listener', ['echo.Echo']);
    const lds = await s.nextOf('listener');
    s.request('listener', ['echo.Echo'], lds.response, 'listener rejected: no filter named router');
    s.request('cluster', ['/#/io.l5d.fs/echo.Echo']);
    // The NACK got no answer (no loop of re-sending what was rejected): the next response is the cluster.
    await s.nextOf('cluster');
    assert.equal(await metric(c, 'kgr_xds_nacks_total', 'type="listener"'), 1);
    const nack = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'xDS client rejected a response (NACK)');
    assert.ok(nack, `a NACK log line: ${lines.join('')}`);
    assert.equal(nack.node, 'node-7');
    assert.equal(nack.type, 'listener');
    assert.equal(nack.error, 'listener rejected: no filter named router');
    assert.deepEqual(c.plane.xds.subscribers()[0]!.types.listener!.lastNack, 'listener rejected: no filter named router');
    // Rejected again (the response is still the latest of its type): counted again, still not re-sent.
    s.request('listener', ['echo.Echo'], lds.response, 'again');
    s.request('route', ['echo.Echo']);
    await s.nextOf('route');
    assert.equal(await metric(c, 'kgr_xds_nacks_total', 'type="listener"'), 2);
    // Every rejection is counted; a stream's lines are rate-limited (hostile-clients.test.ts): a client cannot flood the log.
    s.request('listener', ['echo.Echo'], lds.response, 'again');
    s.request('cluster', []);
    await s.nextOf('cluster');
    assert.equal(await metric(c, 'kgr_xds_nacks_total', 'type="listener"'), 3);
    assert.equal(lines.filter((l) => l.includes('(NACK)')).length, 1, 'two distinct rejections within 10 s, one log line');
    assert.equal(s.ended, undefined, 'the stream stays open');
    s.cancel();
  });
});

test('malformed requests end the stream INVALID_ARGUMENT, naming what was wrong', async () => {
  await withControl({}, async (_c, client) => {
    const cases: [string, (s: AdsClient) => void, RegExp][] = [
      ['an unknown type_url', (s) => s.raw({ type_url: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret', resource_names: ['x'] }), /type_url "type\.googleapis\.com\/envoy\.extensions\.transport_sockets\.tls\.v3\.Secret" is not served here/],
      ['no type_url', (s) => s.raw({ resource_names: ['x'] }), /an empty type_url is not served here/],
      ['a listener name that is no gRPC service', (s) => s.request('listener', ['echo Echo']), /listener resource name "echo Echo" is not a gRPC service name/],
      ['a cluster name that is no bound id', (s) => s.request('cluster', ['echo']), /cluster resource name "echo" is not a bound id/],
      ['an endpoint name that is no path', (s) => s.request('endpoint', ['/#/a//b']), /endpoint resource name "\/#\/a\/\/b" is not a path/],
    ];
    for (const [what, send, message] of cases) {
      const s = new AdsClient(client);
      send(s);
      const status = await s.status;
      assert.equal(status.code, grpc.status.INVALID_ARGUMENT, `${what}: ${status.details}`);
      assert.match(status.details, message, what);
    }
  });
});

test('limits: streams past xds.maxStreams, names past maxNamesPerStream and maxNames are refused RESOURCE_EXHAUSTED and counted; many streams share one binding', async () => {
  await withControl({ xdsExtra: 'maxStreams: 3, maxNamesPerStream: 2, maxNames: 2', endpoints: { 'a.A': ['127.0.0.1 9001'], 'b.B': ['127.0.0.1 9002'] } }, async (c, client) => {
    const one = new AdsClient(client);
    const two = new AdsClient(client);
    one.request('listener', ['a.A']);
    two.request('listener', ['a.A']);
    await one.nextOf('listener');
    await two.nextOf('listener');
    assert.equal(c.plane.xds.nameCount, 1, 'two streams, one name: one binding');
    const three = new AdsClient(client);
    three.request('listener', ['a.A', 'b.B', 'c.C']);
    assert.equal((await three.status).code, grpc.status.RESOURCE_EXHAUSTED);
    assert.match((await three.status).details, /3 listener names on one stream; at most 2 are served \(xds\.maxNamesPerStream\)/);
    const four = new AdsClient(client);
    four.request('listener', ['b.B']);
    await four.nextOf('listener');
    // Both names are in use: a third is refused, and says why.
    four.request('route', ['c.C']);
    assert.match((await four.status).details, /follows 2 names, each with a subscriber \(xds\.maxNames\)/);
    const five = new AdsClient(client);
    const six = new AdsClient(client);
    five.request('listener', ['a.A']);
    six.request('listener', ['a.A']);
    await five.nextOf('listener');
    assert.equal((await six.status).code, grpc.status.RESOURCE_EXHAUSTED);
    assert.match((await six.status).details, /has 3 streams open \(xds\.maxStreams\)/);
    for (const limit of ['xds.maxStreams', 'xds.maxNamesPerStream', 'xds.maxNames']) {
      assert.ok((await metric(c, 'kgr_limits_reached_total', `limit="${limit}"`)) >= 1, limit);
    }
    for (const s of [one, two, five]) s.cancel();
  });
});
