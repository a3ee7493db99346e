import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { echoClient } from '../../examples/echo/client.js';
import { startEchoServer } from '../../examples/echo/server.js';
import { parseConfig } from '../../src/config/load.js';
import { NameInterpreter } from '../../src/dtab/interpreter.js';
import { parseDtab, parsePath } from '../../src/dtab/parse.js';
import { globalNamer } from '../../src/namers/global.js';
import { createNamer } from '../../src/namers/registry.js';
import { Router } from '../../src/router/router.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { Logger } from '../../src/util/log.js';
import { Var } from '../../src/util/var.js';
import { adsServiceDefinition, packAny, TYPE_URLS, type DiscoveryRequest, type DiscoveryResponse } from '../../src/xds/protos.js';
import { XdsNamer, type XdsNamerOptions } from '../../src/xds/subscriber/xds-namer.js';
import { freePort } from '../e2e/process.js';
import { eventually } from '../support/eventually.js';
import { KubeApiServer } from '../fixtures/k8s/api-server.js';
import { startK8sControlPlane } from '../fixtures/xds/k8s-control-plane.js';
import { FakeClock } from '../support/fake-clock.js';
import { boundOf, hostPorts, isNeg, Watching } from '../namers/helpers.js';

const ECHO = '/#/io.l5d.k8s/default/80/echo';

interface SubscriberState {
  connection: { state: string; server: string; acks: number; nacks: number };
  subscribed: string[];
  names: Record<string, { addrs: unknown }>;
}

/** A router on a free port whose one namer, io.l5d.xds for /#/io.l5d.k8s, subscribes to `servers` as node-1; its dtab sends /svc to the echo Service. */
async function subscribingRouter(servers: string[], metrics: Metrics, log: Logger) {
  const { config } = parseConfig(
    `namers:
- {kind: io.l5d.xds, prefix: /#/io.l5d.k8s, servers: [${servers.map((a) => `"${a}"`).join(', ')}], nodeId: node-1, reconnectMinMs: 20, reconnectMaxMs: 200}
routers:
- {protocol: h2, dtab: "/svc => ${ECHO}", servers: [{port: 4140}]}`,
  );
  const namers = await Promise.all(config.namers.map((n) => createNamer(n, { metrics, log })));
  const routerConfig = { ...config.routers[0]!, servers: [{ ...config.routers[0]!.servers[0]!, port: 0 }] };
  const router = new Router(routerConfig, { interpreter: new NameInterpreter({ global: globalNamer(), namers }), dtab: new Var(parseDtab(routerConfig.dtab)), metrics, log });
  await router.start();
  return { namers, router, client: echoClient(`127.0.0.1:${router.boundPorts[0]!.port}`) };
}

test('a router fed by the control plane routes, follows scale out and in, honours l5d-dtab, keeps its endpoints while the control plane is away, fails over and reconnects', { timeout: 60_000 }, async () => {
  const metrics = new Metrics({ processMetrics: false });
  const log = Logger.silent();
  const api = await KubeApiServer.start();
  const [a, b, c] = [await startEchoServer({ name: 'a' }), await startEchoServer({ name: 'b' }), await startEchoServer({ name: 'c' })];
  const [port1, port2] = [await freePort(), await freePort()];
  let cp1 = await startK8sControlPlane(api.port, port1);
  let cp2 = await startK8sControlPlane(api.port, port2);
  const { namers, router, client } = await subscribingRouter([cp1.address, cp2.address], metrics, log);
  const namer = namers[0]!.namer;
  const state = () => namer.state!() as SubscriberState;
  const froms = async (n: number, metadata?: grpc.Metadata) => {
    const seen = new Set<string>();
    for (let i = 0; i < n; i++) seen.add((await client.echo(`m${i}`, { deadlineMs: 5000, metadata })).from);
    return [...seen].sort();
  };
  const untilOnly = (names: string[], what: string) => eventually(what, async () => {
    assert.deepEqual(await froms(10), names, what);
    return true;
  }, 5000);
  const echoAddrs = () => state().names['default/80/echo']?.addrs;
  try {
    api.applyService('default', 'echo', [{ name: 'grpc', port: 80, targetPort: 'grpc' }]);
    api.applySlice('default', 'echo-a', 'echo', [{ ip: '127.0.0.1' }], [{ name: 'grpc', port: a.port }]);
    api.applyService('default', 'other', [{ name: 'grpc', port: 80, targetPort: 'grpc' }]);
    api.applySlice('default', 'other-c', 'other', [{ ip: '127.0.0.1' }], [{ name: 'grpc', port: c.port }]);
    assert.deepEqual(await froms(10), ['a']);
    // One stream to the first replica, subscribed to exactly the name the binding needs.
    assert.deepEqual(state().subscribed, [ECHO]);
    assert.equal(state().connection.server, cp1.address);
    const [sub] = cp1.plane.xds.subscribers();
    assert.equal(sub?.node, 'node-1');
    assert.deepEqual(sub?.names('endpoint'), [ECHO]);
    assert.equal(sub?.types.endpoint?.acked, sub?.types.endpoint?.version, 'the router ACKed the last response');

    api.applySlice('default', 'echo-b', 'echo', [{ ip: '127.0.0.1' }], [{ name: 'grpc', port: b.port }]);
    await untilOnly(['a', 'b'], 'both endpoints used after scale out');

    // A per-request override still binds through the namers: a second subscription on the same stream.
    const override = new grpc.Metadata();
    override.set('l5d-dtab', '/svc => /#/io.l5d.k8s/default/80/other');
    assert.deepEqual(await froms(5, override), ['c']);
    assert.deepEqual(state().subscribed.sort(), [ECHO, '/#/io.l5d.k8s/default/80/other']);

    api.delete('endpointslices', 'default', 'echo-a');
    await eventually('the subscriber saw the scale in', () => Array.isArray(echoAddrs()) && (echoAddrs() as unknown[]).length === 1, 5000);
    assert.deepEqual(await froms(20), ['b']);

    // The first replica goes: routing goes on with what the router has, and it fails over to the second.
    await cp1.plane.close();
    assert.deepEqual(await froms(10), ['b'], 'still routed while the control plane is away');
    await eventually('failover to the second replica', () => state().connection.state === 'connected' && state().connection.server === cp2.address, 5000);
    api.applySlice('default', 'echo-c', 'echo', [{ ip: '127.0.0.1' }], [{ name: 'grpc', port: c.port }]);
    await untilOnly(['b', 'c'], 'the change served by the second replica');

    // Both go; the first comes back on its address: the router reconnects and resubscribes.
    await cp2.plane.close();
    assert.deepEqual(await froms(10), ['b', 'c'], 'still routed with no control plane at all');
    api.delete('endpointslices', 'default', 'echo-b');
    cp1 = await startK8sControlPlane(api.port, port1);
    await untilOnly(['c'], 'the change after reconnecting');
    assert.equal(state().connection.server, cp1.address);
    assert.deepEqual(cp1.plane.xds.subscribers()[0]?.names('endpoint').sort(), [ECHO, '/#/io.l5d.k8s/default/80/other']);
  } finally {
    client.close();
    await router.close();
    for (const n of namers) await n.namer.close?.();
    await cp1.plane.close();
    await cp2.plane.close();
    await api.close();
    await Promise.all([a.close(), b.close(), c.close()]);
  }
});

function subscriber(servers: string[], clock: FakeClock, extra: Partial<XdsNamerOptions> = {}): XdsNamer {
  return new XdsNamer({
    prefix: parsePath('/#/io.l5d.k8s'),
    servers,
    nodeId: 'node-2',
    idSegments: 3,
    idleTtlMs: 60_000,
    maxNames: 10,
    initialFetchTimeoutMs: 15_000,
    reconnectMinMs: 20,
    reconnectMaxMs: 100,
    metrics: new Metrics({ processMetrics: false }),
    log: Logger.silent(),
    clock,
    ...extra,
  });
}

test('/ready names the names awaited and the connection; a name never served is Neg after the fetch timeout; idle names are unsubscribed; maxNames bounds them', { timeout: 30_000 }, async () => {
  const api = await KubeApiServer.start();
  const echo = await startEchoServer();
  api.applyService('default', 'echo', [{ name: 'grpc', port: 80, targetPort: 'grpc' }]);
  api.applySlice('default', 'echo-1', 'echo', [{ ip: '127.0.0.1' }], [{ name: 'grpc', port: echo.port }]);
  const port = await freePort();
  const clock = new FakeClock();
  const namer = subscriber([`127.0.0.1:${port}`], clock, { maxNames: 2 });
  let control: Awaited<ReturnType<typeof startK8sControlPlane>> | undefined;
  try {
    const echoName = new Watching(namer.lookup(parsePath('/default/80/echo/rest')));
    // Nothing listens yet: not ready, saying what it waits for and why.
    await eventually('a failed connection', () => namer.ready().reason?.includes('backing off'), 5000);
    const reason = namer.ready().reason!;
    assert.match(reason, new RegExp(`^xDS backing off 127\\.0\\.0\\.1:${port} \\(last error: 127\\.0\\.0\\.1:${port}: UNAVAILABLE: .*\\); awaiting xds default/80/echo: waiting for the first answer$`));
    control = await startK8sControlPlane(api.port, port);
    clock.advance(100); // past the reconnect backoff (reconnectMaxMs), which runs on the namer's clock
    await eventually('ready once the name has its endpoints', () => namer.ready().ready, 5000);
    const bound = boundOf(echoName.v as never)!;
    assert.equal(bound.id.show(), ECHO);
    assert.equal(bound.residual.show(), '/rest');
    assert.deepEqual(hostPorts(bound.addr.sample), [`127.0.0.1:${echo.port}`]);

    // No such Service: EDS says nothing, so the name is Neg once the initial fetch timeout passes.
    const missing = namer.lookup(parsePath('/default/80/missing'));
    const watchingMissing = new Watching(missing);
    await eventually('the second subscription', () => control!.plane.xds.subscribers()[0]?.names('endpoint').length === 2, 5000);
    clock.advance(14_999);
    assert.equal(isNeg(missing), false, 'not Neg before the timeout');
    clock.advance(1);
    assert.equal(isNeg(missing), true);

    // Bounded: with two names in use, a third is refused, not subscribed.
    const third = namer.lookup(parsePath('/default/80/third'));
    const watchingThird = new Watching(third);
    const addr = boundOf(third)?.addr.sample;
    assert.deepEqual(addr, { type: 'failed', cause: 'too many xDS names in use (maxNames 2): not subscribing to default/80/third' });

    // Unused names are unsubscribed after their idle TTL (a Neg one sooner), and then the stream ends.
    for (const w of [echoName, watchingMissing, watchingThird]) w.close();
    clock.advance(80_000);
    await eventually('the stream closed with no name left', () => control!.plane.xds.streamCount === 0, 5000);
    assert.deepEqual((namer.state() as SubscriberState).subscribed, []);
  } finally {
    namer.close();
    await control?.plane.close();
    await api.close();
    await echo.close();
  }
});

test('a response with a bad resource is NACKed naming it, with the nonce answered and the last good version; the good resources apply', { timeout: 30_000 }, async () => {
  const requests: DiscoveryRequest[] = [];
  const server = new grpc.Server();
  const cla = (name: string, address: string) =>
    packAny('envoy.config.endpoint.v3.ClusterLoadAssignment', {
      cluster_name: name,
      endpoints: [{ locality: { zone: 'z1' }, lb_endpoints: [
        { endpoint: { address: { socket_address: { address, port_value: 8080 } } }, health_status: 'HEALTHY' },
        { endpoint: { address: { socket_address: { address: '10.0.0.9', port_value: 8080 } } }, health_status: 'DRAINING' },
      ] }],
    });
  server.addService(adsServiceDefinition(), {
    StreamAggregatedResources: (call: grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>) => {
      call.on('data', (m: DiscoveryRequest) => {
        requests.push(m);
        if (requests.length === 1) {
          call.write({ version_info: 'v1', nonce: 'n1', type_url: TYPE_URLS.endpoint, resources: [cla(ECHO, '10.0.0.1')] });
        } else if (requests.length === 2) {
          call.write({ version_info: 'v2', nonce: 'n2', type_url: TYPE_URLS.endpoint, resources: [cla(ECHO, '10.0.0.2'), cla('/#/io.l5d.k8s/default/80/bad', 'not-an-ip')] });
        }
      });
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  const namer = subscriber([`127.0.0.1:${port}`], new FakeClock());
  try {
    const w = new Watching(namer.lookup(parsePath('/default/80/echo')));
    await eventually('ACK then NACK', () => requests.length >= 3, 5000);
    assert.deepEqual(requests.map((r) => [r.version_info, r.response_nonce, r.error_detail?.code ?? 0]), [['', '', 0], ['v1', 'n1', 0], ['v1', 'n2', 3]]);
    assert.equal(requests[0]!.node?.id, 'node-2');
    assert.deepEqual(requests[0]!.resource_names, [ECHO]);
    assert.match(requests[2]!.error_detail!.message, /^resources\[1\]: ClusterLoadAssignment "\/#\/io\.l5d\.k8s\/default\/80\/bad" endpoints\[0\]\.lb_endpoints\[0\]: address "not-an-ip" is not an IP address$/);
    // The valid resource applied; the DRAINING endpoint is left out; the zone is kept.
    const addr = boundOf(w.v as never)!.addr.sample;
    assert.deepEqual(addr.type === 'bound' ? addr.addrs : addr, [{ host: '10.0.0.2', port: 8080, weight: 1, meta: { zone: 'z1' } }]);
    w.close();
  } finally {
    namer.close();
    server.forceShutdown();
  }
});

test('a Service deleted after its endpoints were sent: the control plane sends its assignment empty, and the router fails calls UNAVAILABLE instead of calling the old endpoints', { timeout: 30_000 }, async () => {
  const api = await KubeApiServer.start();
  const echo = await startEchoServer({ name: 'a' });
  const control = await startK8sControlPlane(api.port);
  const { namers, router, client } = await subscribingRouter([control.address], new Metrics({ processMetrics: false }), Logger.silent());
  const addrs = () => (namers[0]!.namer.state!() as SubscriberState).names['default/80/echo']?.addrs;
  try {
    api.applyService('default', 'echo', [{ name: 'grpc', port: 80, targetPort: 'grpc' }]);
    api.applySlice('default', 'echo-a', 'echo', [{ ip: '127.0.0.1' }], [{ name: 'grpc', port: echo.port }]);
    assert.equal((await client.echo('m', { deadlineMs: 5000 })).from, 'a');
    // The Service goes; its EndpointSlice (and the echo server behind it) stay: only the empty assignment can stop the calls.
    api.delete('services', 'default', 'echo');
    await eventually('the subscriber took the empty assignment', () => Array.isArray(addrs()) && (addrs() as unknown[]).length === 0, 5000);
    await assert.rejects(client.echo('m', { deadlineMs: 5000 }), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.UNAVAILABLE, err.message);
      return true;
    });
  } finally {
    client.close();
    await router.close();
    for (const n of namers) await n.namer.close?.();
    await control.plane.close();
    await api.close();
    await echo.close();
  }
});
