import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/load.js';
import { startRouterProcess, type RouterProcess } from '../../src/main.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { Logger } from '../../src/util/log.js';
import { echoClient } from '../../examples/echo/client.js';
import { startEchoServer, type EchoServer } from '../../examples/echo/server.js';
import { KubeApiServer } from '../fixtures/k8s/api-server.js';
import { get } from './process.js';
import { eventually } from '../support/eventually.js';

/**
 * `/ready` (issue 5): config loaded, listeners bound, and the namers the routes depend on synced;
 * 503 while draining. The Kubernetes API is the real list/watch test server.
 */

const K8S_DTAB = '/svc/com.example.grpc.EchoService => /#/io.l5d.k8s/default/grpc/echo';

async function start(apiPort: number, dtab: string, shutdownDelayMs = 0): Promise<RouterProcess> {
  const { config } = parseConfig(
    ['namers:', '- kind: io.l5d.k8s', '  host: 127.0.0.1', `  port: ${apiPort}`, 'routers:', '- protocol: h2',
      `  dtab: ${dtab}`, '  servers:', '  - port: 4140'].join('\n'),
  );
  // Ephemeral ports are a test-only choice the config rightly refuses.
  const routers = config.routers.map((r) => ({ ...r, servers: r.servers.map((s) => ({ ...s, port: 0 })) }));
  return startRouterProcess(
    { ...config, routers, admin: { ...config.admin, port: 0 }, shutdownDelayMs, shutdownGraceMs: 5000 },
    { log: Logger.silent(), metrics: new Metrics({ processMetrics: false }), env: {} },
  );
}

/** The API test server with Service `default/echo` (port `grpc`) whose one endpoint is a real echo server. */
async function echoInCluster(t: TestContext): Promise<{ api: KubeApiServer; echo: EchoServer }> {
  const api = await KubeApiServer.start();
  t.after(() => api.close());
  const echo = await startEchoServer();
  t.after(() => echo.close());
  api.applyService('default', 'echo', [{ name: 'grpc', port: 80, targetPort: 'grpc' }]);
  api.applySlice('default', 'echo-a', 'echo', [{ ip: '127.0.0.1' }], [{ name: 'grpc', port: echo.port }]);
  return { api, echo };
}

const ready = (proc: RouterProcess) => get(`http://127.0.0.1:${proc.admin.port}/ready`);

test('/ready is 503 naming the service and the 403 while the API refuses, 200 once synced, 503 while draining', { timeout: 60_000 }, async (t) => {
  const { api, echo } = await echoInCluster(t);
  api.authorizer = () => false;

  const proc = await start(api.port, K8S_DTAB, 1500);
  t.after(() => proc.close());
  const refused = await eventually('/ready answering 503 with the 403', async () => {
    const r = await ready(proc);
    assert.equal(r.status, 503);
    assert.match(r.body, /io\.l5d\.k8s default\/echo not synced: forbidden/);
    return r;
  });
  assert.match(refused.body, /RBAC verb "list"/, refused.body);
  // Still refused: still not ready (the watch keeps retrying, the reason stays).
  assert.equal((await ready(proc)).status, 503);

  api.authorizer = () => true;
  await eventually('/ready answering 200', async () => (await ready(proc)).status === 200, 20_000);
  const client = echoClient(`127.0.0.1:${proc.routers[0]!.boundPorts[0]!.port}`);
  t.after(() => client.close());
  assert.equal((await client.echo('hi', { deadlineMs: 5000 })).from, echo.address);

  // Draining: not ready at once, while the router still serves during shutdownDelay.
  const done = proc.shutdown('test');
  const draining = await ready(proc);
  assert.equal(draining.status, 503);
  assert.match(draining.body, /shutting down/);
  assert.equal((await client.echo('still', { deadlineMs: 5000 })).from, echo.address);
  await done;
});

test('/ready waits for an API that is down at start, but only when a route depends on it', { timeout: 60_000 }, async (t) => {
  const { api, echo } = await echoInCluster(t);
  await api.stop();

  // A router whose dtab names no Kubernetes service is ready though the API is down.
  const independent = await start(api.port, `/svc => /$/inet/127.0.0.1/${echo.port}`);
  t.after(() => independent.close());
  await eventually('/ready answering 200', async () => (await ready(independent)).status === 200);

  const proc = await start(api.port, K8S_DTAB);
  t.after(() => proc.close());
  await eventually('/ready answering 503 naming the failed list', async () => {
    const r = await ready(proc);
    assert.equal(r.status, 503);
    assert.match(r.body, /io\.l5d\.k8s default\/echo not synced: list endpointslices\.discovery\.k8s\.io in namespace "default" failed/);
    return true;
  });

  await api.restart();
  await eventually('/ready answering 200', async () => (await ready(proc)).status === 200, 20_000);
});
