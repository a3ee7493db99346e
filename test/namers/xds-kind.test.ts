import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/load.js';
import { createNamer } from '../../src/namers/registry.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { Logger } from '../../src/util/log.js';

const ROUTERS = 'routers:\n- protocol: h2\n  servers:\n  - port: 4140\n';

test('io.l5d.xds config: defaults filled, bad servers and limits named by file:line:col and key path', async () => {
  const { config } = parseConfig(`namers:\n- {kind: io.l5d.xds, prefix: /#/io.l5d.k8s}\n${ROUTERS}`);
  assert.deepEqual(config.namers, [
    { kind: 'io.l5d.xds', prefix: '/#/io.l5d.k8s', idSegments: 3, idleTtlSecs: 600, maxNames: 1000, initialFetchTimeoutMs: 15_000, reconnectMinMs: 1000, reconnectMaxMs: 30_000 },
  ]);
  assert.throws(
    () => parseConfig(`namers:\n- kind: io.l5d.xds\n  servers: ["a:1", "b", "c:70000"]\n  maxNames: 0\n${ROUTERS}`, { source: 'r.yaml' }),
    (err: Error) =>
      err.message ===
      [
        'namers[0].servers[1]: "b" is not host:port (r.yaml:3:20)',
        'namers[0].servers[2]: port 70000 of "c:70000" is not in 1..65535 (r.yaml:3:25)',
        'namers[0].maxNames: expected an integer 1-1000000, got 0 (r.yaml:4:13)',
      ].join('\n'),
  );
  // Without servers: KGR_XDS_SERVER, a list, checked the same way.
  const deps = { metrics: new Metrics({ processMetrics: false }), log: Logger.silent() };
  await assert.rejects(createNamer(config.namers[0]!, { ...deps, env: { KGR_XDS_SERVER: 'cp-0:18000,cp-1' } }), {
    message: 'namers: io.l5d.xds at /#/io.l5d.k8s: servers: "cp-1" is not host:port (from KGR_XDS_SERVER)',
  });
  const namer = await createNamer(config.namers[0]!, { ...deps, env: { KGR_XDS_SERVER: 'cp-0:18000, cp-1:18000', NODE_NAME: 'n1' } });
  assert.deepEqual((namer.namer.state!() as { servers: string[]; nodeId: string }).servers, ['cp-0:18000', 'cp-1:18000']);
  assert.equal((namer.namer.state!() as { nodeId: string }).nodeId, 'n1');
  await namer.namer.close?.();
});
