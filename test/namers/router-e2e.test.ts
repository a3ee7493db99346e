import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/load.js';
import { createNamer } from '../../src/namers/registry.js';
import { NameInterpreter } from '../../src/dtab/interpreter.js';
import { parseDtab } from '../../src/dtab/parse.js';
import { Router } from '../../src/router/router.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { Logger } from '../../src/util/log.js';
import { Var } from '../../src/util/var.js';
import { startEchoServer } from '../../examples/echo/server.js';
import { echoClient } from '../../examples/echo/client.js';
import { KubeApiServer } from '../fixtures/k8s/api-server.js';
import { eventually } from '../support/eventually.js';
import { globalNamer } from '../../src/namers/global.js';
import { startK8sControlPlane } from '../fixtures/xds/k8s-control-plane.js';

/**
 * How the router discovers: watching the Kubernetes API itself (io.l5d.k8s), or subscribing over xDS
 * to a control plane that watches it (io.l5d.xds standing in under the same prefix, so the dtab is
 * the same). Each gives the namers' YAML list and what to stop afterwards.
 */
const MODES: Record<string, (api: KubeApiServer) => Promise<{ namers: string[]; close(): Promise<void> }>> = {
  'io.l5d.k8s': async (api) => ({ namers: ['- kind: io.l5d.k8s', '  host: 127.0.0.1', `  port: ${api.port}`], close: async () => {} }),
  'io.l5d.xds (fed by the control plane)': async (api) => {
    const { plane, address } = await startK8sControlPlane(api.port);
    return { namers: ['- kind: io.l5d.xds', '  prefix: /#/io.l5d.k8s', `  servers: ["${address}"]`, '  reconnectMinMs: 20'], close: () => plane.close() };
  },
};

/**
 * End to end: a real grpc-js client through a real Router whose only discovery is the Kubernetes API
 * test server, directly or through the control plane. Scale out, scale in, and an API outage.
 */
for (const [mode, discovery] of Object.entries(MODES)) {
  test(`a gRPC client through the Router follows EndpointSlice changes (scale out, scale in, API restart): ${mode}`, { timeout: 60_000 }, async () => {
    const metrics = new Metrics({ processMetrics: false });
    const log = Logger.silent();
    const api = await KubeApiServer.start();
    const source = await discovery(api);
    const a = await startEchoServer();
    const b = await startEchoServer();
    const c = await startEchoServer();
    const { config } = parseConfig(
      ['namers:', ...source.namers, 'routers:', '- protocol: h2',
        '  dtab: /svc => /#/io.l5d.k8s/default/80/echo', '  servers:', '  - port: 4140'].join('\n'),
    );
    const namers = await Promise.all(config.namers.map((n) => createNamer(n, { metrics, log })));
    // Port 0 (ephemeral) is a test-only choice the config rightly refuses.
    const routerConfig = { ...config.routers[0]!, servers: config.routers[0]!.servers.map((s) => ({ ...s, port: 0 })) };
    const router = new Router(routerConfig, {
      interpreter: new NameInterpreter({ global: globalNamer(), namers }),
      dtab: new Var(parseDtab(routerConfig.dtab)),
      metrics,
      log,
    });
    await router.start();
    const client = echoClient(`127.0.0.1:${router.boundPorts[0]!.port}`);
    const froms = async (n: number) => {
      const seen = new Set<string>();
      for (let i = 0; i < n; i++) seen.add((await client.echo(`m${i}`, { deadlineMs: 5000 })).from);
      return seen;
    };
    try {
      // Service port 80 → targetPort "grpc"; each slice resolved it to its pod's port.
      api.applyService('default', 'echo', [{ name: 'grpc', port: 80, targetPort: 'grpc' }]);
      api.applySlice('default', 'echo-a', 'echo', [{ ip: '127.0.0.1' }], [{ name: 'grpc', port: a.port }]);
      assert.deepEqual([...(await froms(10))], [a.address]);

      // Scale out: a new ready endpoint gets streams.
      api.applySlice('default', 'echo-b', 'echo', [{ ip: '127.0.0.1' }], [{ name: 'grpc', port: b.port }]);
      const both = new Set<string>();
      await eventually('both endpoints used after scale out', async () => both.add((await client.echo('x', { deadlineMs: 5000 })).from).size === 2);
      assert.deepEqual([...both].sort(), [a.address, b.address].sort());

      // Scale in: a DELETED slice's endpoint gets nothing new.
      api.delete('endpointslices', 'default', 'echo-a');
      // Once the namer has seen the DELETED event, every new stream must go to b.
      const addrsOf = () => (namers[0]!.namer.state!() as { names: Record<string, { addrs: unknown }> }).names['default/80/echo']?.addrs;
      await eventually('namer saw the DELETED slice', () => Array.isArray(addrsOf()) && (addrsOf() as unknown[]).length === 1, 5000);
      assert.deepEqual([...(await froms(20))], [b.address], 'only b after scale in');

      // API outage: routing keeps working on the last known endpoints, then converges.
      await api.stop();
      assert.deepEqual([...(await froms(10))], [b.address], 'still routed while the API is down');
      api.applySlice('default', 'echo-b', 'echo', [{ ip: '127.0.0.1', ready: false }], [{ name: 'grpc', port: b.port }]);
      api.applySlice('default', 'echo-c', 'echo', [{ ip: '127.0.0.1' }], [{ name: 'grpc', port: c.port }]);
      await api.restart();
      await eventually('converged to c after the API came back', async () => (await client.echo('x', { deadlineMs: 5000 })).from === c.address);
      assert.deepEqual([...(await froms(10))], [c.address]);
    } finally {
      client.close();
      await router.close();
      for (const n of namers) await n.namer.close?.();
      await source.close();
      await api.close();
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  });
}
