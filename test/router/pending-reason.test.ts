import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { request } from 'node:http';
import { parseConfig } from '../../src/config/load.js';
import { createNamer } from '../../src/namers/registry.js';
import { NameInterpreter } from '../../src/dtab/interpreter.js';
import { parseDtab } from '../../src/dtab/parse.js';
import { Router } from '../../src/router/router.js';
import { adminRouter, startAdmin } from '../../src/admin/server.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { Logger } from '../../src/util/log.js';
import { Var } from '../../src/util/var.js';
import { globalNamer } from '../../src/namers/global.js';
import { KubeApiServer } from '../fixtures/k8s/api-server.js';
import { testClient, unary } from '../fixtures/grpc/test-service.js';
import { eventually } from '../support/eventually.js';

const SVC = '/svc/kgr.test.TestService';
const ID = '/#/io.l5d.k8s/default/grpc/echo';
const FORBIDDEN = 'forbidden: the router needs RBAC verb "list" on resource "endpointslices"';

/**
 * A name that stays pending says why when a call (or a delegation) gives up on it: a real Router over
 * the io.l5d.k8s namer, against the Kubernetes API test server refusing to list EndpointSlices (403),
 * a real grpc-js call through it, and /delegator.json over HTTP.
 */
test('a call timing out on a pending name says why the name waits (a 403 from the API); so does the delegator', { timeout: 30_000 }, async () => {
  const metrics = new Metrics({ processMetrics: false });
  const log = Logger.silent();
  const api = await KubeApiServer.start();
  api.authorizer = (verb, resource) => !(resource === 'endpointslices' && (verb === 'list' || verb === 'watch'));
  const { config } = parseConfig(
    ['namers:', '- kind: io.l5d.k8s', '  host: 127.0.0.1', `  port: ${api.port}`, '  maxWatches: 1',
      'routers:', '- protocol: h2', `  dtab: ${SVC} => ${ID}`, '  bindingTimeoutMs: 300', '  servers:', '  - port: 4140'].join('\n'),
  );
  const namers = await Promise.all(config.namers.map((n, i) => createNamer(n, { metrics, log, key: `namers[${i}]` })));
  const routerConfig = { ...config.routers[0]!, servers: config.routers[0]!.servers.map((s) => ({ ...s, port: 0 })) };
  const interpreter = new NameInterpreter({ global: globalNamer(), namers });
  const router = new Router(routerConfig, { interpreter, dtab: new Var(parseDtab(routerConfig.dtab)), metrics, log });
  await router.start();
  const admin = await startAdmin(
    { ip: '127.0.0.1', port: 0, controlEnabled: false, maxConnections: 1000, maxConnectionsPerClient: 16 },
    { routers: [adminRouter(router, interpreter)], namers: [], metrics, log, effectiveConfig: null, readiness: () => ({ ready: true, reasons: [] }), version: 'test' },
  );
  const client = testClient(`127.0.0.1:${router.boundPorts[0]!.port}`);
  try {
    // The first call starts the watch (the binding cache keeps it); wait until its list was refused,
    // so the next call's wait is certain to have a reason to quote.
    const first = await unary(client, { message: 'x' });
    assert.equal(first.error?.code, grpc.status.UNAVAILABLE);
    await eventually('the list was refused', () => {
      const r = namers[0]!.namer.ready?.();
      return r !== undefined && !r.ready && (r.reason ?? '').includes('forbidden');
    }, 10_000);

    const r = await unary(client, { message: 'x' });
    assert.equal(r.error?.code, grpc.status.UNAVAILABLE, 'the code is still UNAVAILABLE');
    assert.ok(
      r.error!.details.startsWith(`Exceeded 300 ms binding timeout while resolving name: ${SVC} (${ID}: ${FORBIDDEN}`),
      `the reason is quoted: ${r.error!.details}`,
    );
    assert.ok(r.error!.details.length <= 512 + 120, 'bounded');

    const d = await delegation(admin.port, SVC, `${SVC} => ${ID}`);
    assert.equal(d.status, 503, d.text);
    assert.ok(d.text.startsWith(`Request timed out. (${ID}: ${FORBIDDEN}`), `the delegator says why: ${d.text}`);

    // A second Service needs a second watch: over maxWatches, counted by the key that refused it.
    const md = new grpc.Metadata();
    md.set('l5d-dtab', `${SVC} => /#/io.l5d.k8s/default/grpc/other`);
    const full = await unary(client, { message: 'x' }, { metadata: md });
    assert.equal(full.error?.code, grpc.status.UNAVAILABLE);
    assert.match(full.error!.details, /too many Kubernetes watches in use \(namers\[0\]\.maxWatches 1\)/);
    const trips = (await metrics.limitsReached.get()).values.filter((v) => v.value > 0).map((v) => v.labels);
    assert.deepEqual(trips, [{ namer: '/#/io.l5d.k8s', limit: 'namers[0].maxWatches' }]);
  } finally {
    client.close();
    await admin.close();
    await router.close();
    for (const n of namers) await n.namer.close?.();
    await api.close();
  }
});

function delegation(port: number, path: string, dtab: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/delegator.json', agent: false, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c)).on('end', () => resolve({ status: res.statusCode!, text }));
    });
    req.on('error', reject).end(JSON.stringify({ path, dtab }));
  });
}
