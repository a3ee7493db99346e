import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../e2e/process.js';
import { assertPythonGrpc, PythonClient } from '../fixtures/grpc/python-client.js';
import { startTestServer, type TestServer } from '../fixtures/grpc/test-service.js';
import { KubeApiServer } from '../fixtures/k8s/api-server.js';
import { adsClient, AdsClient, startControl, tally } from './harness.js';

/**
 * The second real proxyless client: gRPC C-core (Debian's python3-grpcio) with the bootstrap file
 * `kube-grpc-router control --print-bootstrap` printed (GRPC_XDS_BOOTSTRAP), dialling
 * `xds:///kgr.test.TestService`, against a control plane whose io.l5d.k8s namer watches the
 * Kubernetes API test server (real list/watch). Each EndpointSlice holds one pod on 127.0.0.1 with
 * its own port (a real grpc-js server) and zone, so readiness, termination and zones are exercised.
 */
const SERVICE = 'kgr.test.TestService';
const ID = '/#/io.l5d.k8s/default/grpc/echo';

test('python3-grpcio over xDS follows EndpointSlices: zones become localities, not-ready and terminating pods leave, new ones join; one API watch however many subscribers', async (t) => {
  assertPythonGrpc();
  const api = await KubeApiServer.start();
  const backends: Record<string, TestServer> = {};
  for (const name of ['A', 'B', 'C']) backends[name] = await startTestServer({ name });
  const { A, B, C } = backends as Record<'A' | 'B' | 'C', TestServer>;
  const control = await startControl({
    dtab: `/svc/${SERVICE} => /#/io.l5d.k8s/default/grpc/echo;\n`,
    namers: `- {kind: io.l5d.k8s, host: 127.0.0.1, port: ${api.port}}`,
  });
  let client: PythonClient | undefined;
  const raw = adsClient(control.address);
  t.after(async () => {
    client?.close();
    raw.close();
    await control.close();
    await api.stop();
    for (const b of Object.values(backends)) await b.close();
  });
  api.applyService('default', 'echo', [{ name: 'grpc', port: 8080, targetPort: 'grpc' }]);
  const slice = (name: string, server: TestServer, zone: string, conditions: { ready?: boolean; serving?: boolean; terminating?: boolean } = {}) =>
    api.applySlice('default', `echo-${name}`, 'echo', [{ ip: '127.0.0.1', zone, ...conditions }], [{ name: 'grpc', port: server.port }]);
  slice('a', A, 'zone-1');
  slice('b', B, 'zone-2');

  const boot = await runCli(['control', '--print-bootstrap', '--xds-server', control.address], { env: { POD_NAME: 'py-0', POD_NAMESPACE: 'default', NODE_NAME: 'node-1' } });
  assert.equal(boot.code, 0, boot.stderr);
  const bootstrap = join(control.dir, 'bootstrap.json');
  writeFileSync(bootstrap, boot.stdout);
  client = new PythonClient('xds', `xds:///${SERVICE}`, { GRPC_XDS_BOOTSTRAP: bootstrap });

  const first = await client.calls(20);
  assert.deepEqual(Object.keys(tally(first)).sort(), ['A', 'B'], `both zones' pods: ${first.join(' ')}`);
  const node = control.plane.xds.subscribers().find((s) => s.types.endpoint)?.node;
  assert.equal(node, 'default/py-0', 'the node id from the printed bootstrap');

  // What the client was sent: one locality per zone, each weighted.
  const s = new AdsClient(raw);
  s.request('endpoint', [ID]);
  const eds = await s.nextOf('endpoint');
  assert.deepEqual(
    eds.resources[0]!.endpoints.map((l: { locality: { zone: string }; load_balancing_weight: { value: number }; lb_endpoints: unknown[] }) => [l.locality.zone, l.load_balancing_weight.value, l.lb_endpoints.length]),
    [
      ['zone-1', 100, 1],
      ['zone-2', 100, 1],
    ],
  );

  slice('c', C, 'zone-1');
  t.diagnostic(`scale-out seen after ${(await client.until('scale-out', (f) => f.includes('C'))).toFixed(0)} ms`);
  slice('a', A, 'zone-1', { ready: false });
  t.diagnostic(`a pod not ready left after ${(await client.until('not ready', (f) => !f.includes('A'))).toFixed(0)} ms`);
  slice('b', B, 'zone-2', { ready: true, serving: true, terminating: true });
  t.diagnostic(`a terminating pod left after ${(await client.until('terminating', (f) => f.every((x) => x === 'C'))).toFixed(0)} ms`);
  api.delete('endpointslices', 'default', 'echo-c');
  slice('a', A, 'zone-1');
  await client.until('scale-in to one and back', (f) => f.every((x) => x === 'A'));

  // A subscriber flood for the same name: the API server sees no new watch.
  const watches = api.openWatches();
  const flood = Array.from({ length: 50 }, () => new AdsClient(raw));
  for (const f of flood) f.request('endpoint', [ID]);
  for (const f of flood) assert.equal((await f.nextOf('endpoint')).resources.length, 1);
  assert.equal(api.openWatches(), watches, 'the namer watches once, however many subscribers');
  assert.equal(control.plane.xds.nameCount, 2, 'one service and one id, shared by every stream');
  for (const f of [...flood, s]) f.cancel();

  // A dtab edit to a weighted union: C-core gets weighted_clusters (with the total_weight it checks).
  api.applyService('default', 'echo-v2', [{ name: 'grpc', port: 8080, targetPort: 'grpc' }]);
  api.applySlice('default', 'echo-v2-a', 'echo-v2', [{ ip: '127.0.0.1' }], [{ name: 'grpc', port: B.port }]);
  control.dtab(`/svc/${SERVICE} => 1 * /#/io.l5d.k8s/default/grpc/echo & 1 * /#/io.l5d.k8s/default/grpc/echo-v2;\n`);
  t.diagnostic(`weighted union seen after ${(await client.until('the weighted union', (f) => f.includes('B'))).toFixed(0)} ms`);
  const split = tally(await client.calls(100));
  assert.ok((split.A ?? 0) > 20 && (split.B ?? 0) > 20, `1:1 split: ${JSON.stringify(split)}`);
});
