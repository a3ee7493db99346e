import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import * as grpcXds from '@grpc/grpc-js-xds';
import { startTestServer, testService, type TestServer } from '../fixtures/grpc/test-service.js';
import { bootstrapFor } from '../../src/xds/bootstrap.js';
import { grpcJsCaller, line, startControl, tally, until, type ControlHarness } from './harness.js';

/**
 * A real proxyless client: grpc-js with @grpc/grpc-js-xds (grpc-js's own xDS support), bootstrapped
 * by GRPC_XDS_BOOTSTRAP_CONFIG with what `control --print-bootstrap` prints, dialling
 * `xds:///kgr.test.TestService`. It asks the control plane for the Listener, RouteConfiguration,
 * Clusters and ClusterLoadAssignments over one ADS stream and calls real grpc-js servers on 127.0.0.1.
 * Endpoints change through the fs namer's files; routing through the control plane's live dtab file.
 */
const SERVICE = 'kgr.test.TestService';
let control: ControlHarness;
const backends: Record<string, TestServer> = {};

before(async () => {
  for (const name of ['A', 'B', 'C', 'v1', 'v2', 'canary']) backends[name] = await startTestServer({ name });
  control = await startControl({ dtab: `/svc/${SERVICE} => /#/io.l5d.fs/echo;\n`, endpoints: { echo: [line(backends.A!.port), line(backends.B!.port)] } });
  // grpc-js-xds reads its bootstrap once per process: every test in this file shares the control plane.
  process.env.GRPC_XDS_BOOTSTRAP_CONFIG = JSON.stringify(bootstrapFor({ POD_NAME: 'grpc-js-test', POD_NAMESPACE: 'test' }, control.address));
  grpcXds.register();
});

after(async () => {
  await control.close();
  for (const b of Object.values(backends)) await b.close();
});

function xdsClient(): grpc.Client {
  const Ctor = testService();
  return new Ctor(`xds:///${SERVICE}`, grpc.credentials.createInsecure());
}

test('grpc-js with xds:/// calls the endpoints the control plane sends, and follows scale-out and scale-in within a second', async (t) => {
  const client = xdsClient();
  t.after(() => client.close());
  const call = grpcJsCaller(client);
  const first = await call(20);
  assert.deepEqual(Object.keys(tally(first)).sort(), ['A', 'B'], `round robin over the ClusterLoadAssignment: ${first.join(' ')}`);

  const { A, B, C } = backends as Record<'A' | 'B' | 'C', TestServer>;
  control.endpoints('echo', [line(A.port), line(B.port), line(C.port)]);
  t.diagnostic(`scale-out seen after ${(await until(call, 'scale-out', (f) => f.includes('C'))).toFixed(0)} ms`);
  control.endpoints('echo', [line(B.port), line(C.port)]);
  t.diagnostic(`scale-in seen after ${(await until(call, 'scale-in', (f) => !f.includes('A'))).toFixed(0)} ms`);
  const after = await call(20);
  assert.deepEqual(Object.keys(tally(after)).sort(), ['B', 'C'], `the removed endpoint gets no more calls: ${after.join(' ')}`);
  const subscribers = control.plane.xds.subscribers();
  assert.equal(subscribers.length, 1, 'one ADS stream for the channel');
  assert.equal(subscribers[0]!.node, 'test/grpc-js-test', 'the node id from the bootstrap');
  assert.deepEqual(subscribers[0]!.names('endpoint'), ['/#/io.l5d.fs/echo'], 'the cluster is named by the bound id');
  assert.equal(subscribers[0]!.types.endpoint?.acked, subscribers[0]!.types.endpoint?.version, 'the client ACKed the latest ClusterLoadAssignment');
  control.endpoints('echo', [line(A.port), line(B.port)]);
});

test('a dtab edit reaches the client within a second: a weighted union becomes weighted_clusters, an alternation falls through on the server', async (t) => {
  const client = xdsClient();
  t.after(() => {
    client.close();
    control.dtab(`/svc/${SERVICE} => /#/io.l5d.fs/echo;\n`);
  });
  const call = grpcJsCaller(client);
  const { v1, v2, canary } = backends as Record<'v1' | 'v2' | 'canary', TestServer>;
  control.endpoints('v1', [line(v1.port)]);
  control.endpoints('v2', [line(v2.port)]);
  await until(call, 'the first route', (f) => f.includes('A') || f.includes('B'), 5000);

  control.dtab(`/svc/${SERVICE} => 3 * /#/io.l5d.fs/v1 & 1 * /#/io.l5d.fs/v2;\n`);
  const edit = await until(call, 'the weighted union', (f) => f.every((x) => x === 'v1' || x === 'v2'));
  t.diagnostic(`dtab edit seen after ${edit.toFixed(0)} ms`);
  const split = tally(await call(400));
  // 3:1 per call at random: v2's count is Binomial(400, 0.25), mean 100, sd 8.7.
  assert.ok((split.v2 ?? 0) > 55 && (split.v2 ?? 0) < 145 && (split.v1 ?? 0) > 255, `3:1 split: ${JSON.stringify(split)}`);

  // The canary does not exist yet (Neg): the alternation falls through to v1.
  control.dtab(`/svc/${SERVICE} => /#/io.l5d.fs/canary | /#/io.l5d.fs/v1;\n`);
  await until(call, 'the alternation, falling through', (f) => f.every((x) => x === 'v1'));
  control.endpoints('canary', [line(canary.port)]);
  t.diagnostic(`canary appearing seen after ${(await until(call, 'the canary appearing', (f) => f.every((x) => x === 'canary'))).toFixed(0)} ms`);
  control.removeEndpoints('canary');
  await until(call, 'the canary going away', (f) => f.every((x) => x === 'v1'));
});
