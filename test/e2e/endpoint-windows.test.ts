import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/load.js';
import { defaultEndpointWindowsConfig } from '../../src/config/endpoint-windows.js';
import { startRouterProcess } from '../../src/main.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { Logger } from '../../src/util/log.js';
import { CONNECTION_WINDOWS, RECEIVE_BUDGET, WINDOW_GROWTH, configureEndpointWindows } from '../../src/proxy/upstream.js';
import { REPLAY_BUDGET } from '../../src/proxy/replay-budget.js';
import { get } from './process.js';

/** `endpointWindows` sizes the process-wide budgets of endpoints' answers and of requests kept for retries, which /metrics shows. */
test('endpointWindows sizes the process\'s answer and replay budgets at start; /metrics shows what they hold', async () => {
  const { config } = parseConfig(
    ['routers:', '- protocol: h2', '  dtab: /svc => /$/nil', '  servers:', '  - port: 4140',
      'endpointWindows: {earlyCreditBytes: 2097152, growthBytes: 4194304, growthBytesPerClient: 1048576, connectionBytes: 3145728, replayBytes: 5242880, replayBytesPerClient: 524288}'].join('\n'),
  );
  const routers = config!.routers.map((r) => ({ ...r, servers: r.servers.map((s) => ({ ...s, port: 0 })) }));
  const proc = await startRouterProcess(
    { ...config!, routers, admin: { ...config!.admin, port: 0 }, shutdownDelayMs: 0, shutdownGraceMs: 1000 },
    { log: Logger.silent(), metrics: new Metrics({ processMetrics: false }), env: {} },
  );
  try {
    assert.equal(RECEIVE_BUDGET.limit, 2 << 20);
    assert.equal(WINDOW_GROWTH.limit, 4 << 20);
    assert.equal(WINDOW_GROWTH.shareLimit, 1 << 20);
    assert.equal(CONNECTION_WINDOWS.limit, 3 << 20);
    assert.equal(REPLAY_BUDGET.limit, 5 << 20);
    assert.equal(REPLAY_BUDGET.shareLimit, 512 << 10);
    const metrics = (await get(`http://127.0.0.1:${proc.admin.port}/metrics`)).body;
    assert.match(metrics, /^kgr_endpoint_window_bytes\{budget="window_growth"\} 0$/m);
    assert.match(metrics, /^kgr_endpoint_window_bytes\{budget="early_credit"\} 0$/m);
    assert.match(metrics, /^kgr_endpoint_window_bytes\{budget="connection_windows"\} 0$/m);
    assert.match(metrics, /^kgr_endpoint_window_growth_refused_total\{budget="window_growth"\} 0$/m);
    assert.match(metrics, /^kgr_endpoint_window_growth_refused_total\{budget="connection_windows"\} 0$/m);
    assert.match(metrics, /^kgr_replay_bytes 0$/m);
    assert.match(metrics, /^kgr_replay_refused_total 0$/m);
  } finally {
    await proc.close();
    configureEndpointWindows(defaultEndpointWindowsConfig());
  }
});
