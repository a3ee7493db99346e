import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import { startRouter } from '../router/setup.js';
import { startTestServer, testClient, unary } from '../fixtures/grpc/test-service.js';
import { adminRouter, startAdmin } from '../../src/admin/server.js';
import { NameInterpreter } from '../../src/dtab/interpreter.js';
import { globalNamer } from '../../src/namers/global.js';
import { Logger } from '../../src/util/log.js';
import { histogramOf, one, parsePrometheus, select } from './prometheus-text.js';
import { defaultMetricSeriesConfig } from '../../src/config/load.js';
import { OVERFLOW_LABEL } from '../../src/telemetry/label-budget.js';

const SVC = '/svc/kgr.test.TestService';

/** One gRPC request the router cannot route (real HTTP/2, no gRPC client needed for a path it lacks). */
function unroutable(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', reject);
    const req = session.request({ ':method': 'POST', ':path': '/kgr.test.Nowhere/Unary', 'content-type': 'application/grpc', te: 'trailers' });
    req.on('error', reject);
    req.resume();
    req.on('close', () => session.close(() => resolve()));
    req.end();
  });
}

test('real gRPC calls through a real Router show up in /metrics and metrics.json with the right counts', async () => {
  const backend = await startTestServer({ name: 'b' });
  const h = await startRouter(`${SVC} => /$/inet/127.0.0.1/${backend.port}`);
  const admin = await startAdmin(
    { ip: '127.0.0.1', port: 0, controlEnabled: false, maxConnections: 1000, maxConnectionsPerClient: 16 },
    { routers: [adminRouter(h.router, new NameInterpreter({ global: globalNamer() }))], namers: [], metrics: h.metrics, log: Logger.silent(), effectiveConfig: {}, readiness: () => ({ ready: true, reasons: [] }), version: 'test' },
  );
  const client = testClient(h.target);
  const base = `http://127.0.0.1:${admin.port}`;
  const text = async () => {
    const res = await fetch(`${base}/metrics`);
    assert.equal(res.status, 200);
    return parsePrometheus(await res.text());
  };
  const clientId = `/$/inet/127.0.0.1/${backend.port}`;
  const endpoint = `127.0.0.1:${backend.port}`;
  try {
    for (let i = 0; i < 5; i++) assert.equal((await unary(client, { message: `ok ${i}`, size: 100 })).status?.code, 0);
    for (let i = 0; i < 3; i++) assert.equal((await unary(client, { message: 'nf', status: 5, trailers_only: i === 0 })).status?.code, 5);
    await unroutable(h.port);

    let m = await text();
    assert.equal(m.types.get('kgr_requests_total'), 'counter');
    assert.equal(m.types.get('kgr_request_duration_seconds'), 'histogram');
    assert.equal(m.types.get('kgr_streams_in_flight'), 'gauge');
    const route = { router: 'h2', service: SVC, client: clientId };
    assert.equal(one(m.samples, 'kgr_requests_total', { ...route, grpc_code: 'OK' }), 5);
    assert.equal(one(m.samples, 'kgr_requests_total', { ...route, grpc_code: 'NOT_FOUND' }), 3);
    const d = histogramOf(m.samples, 'kgr_request_duration_seconds', route);
    assert.equal(d.count, 8);
    assert.ok(d.sum > 0 && d.sum < 8 * 30, `sum ${d.sum} is 8 plausible durations`);
    assert.equal(d.bounds.length, 16, '15 bounds and +Inf');
    assert.ok(one(m.samples, 'kgr_bytes_total', { router: 'h2', client: clientId, direction: 'request' }) > 0);
    assert.ok(one(m.samples, 'kgr_bytes_total', { router: 'h2', client: clientId, direction: 'response' }) >= 5 * 100, 'the 100-byte payloads came back');
    assert.equal(one(m.samples, 'kgr_streams_in_flight', { router: 'h2', client: clientId }), 0, 'every stream finished');
    assert.equal(one(m.samples, 'kgr_server_streams_total', { router: 'h2' }), 9, 'every accepted stream, routed or not');
    assert.equal(one(m.samples, 'kgr_endpoint_requests_total', { client: clientId, endpoint, result: 'success' }), 5);
    assert.equal(one(m.samples, 'kgr_endpoint_requests_total', { client: clientId, endpoint, result: 'failure' }), 3);
    assert.equal(one(m.samples, 'kgr_router_errors_total', { router: 'h2', reason: 'no route' }), 1);

    // More traffic after a scrape: the next scrape has the totals, not just the growth or double it.
    for (let i = 0; i < 4; i++) await unary(client, { message: `more ${i}` });
    m = await text();
    assert.equal(one(m.samples, 'kgr_requests_total', { ...route, grpc_code: 'OK' }), 9);
    assert.equal(histogramOf(m.samples, 'kgr_request_duration_seconds', route).count, 12);
    assert.equal(one(m.samples, 'kgr_server_streams_total', { router: 'h2' }), 13);
    assert.equal(one(m.samples, 'kgr_endpoint_requests_total', { endpoint, result: 'success' }), 9);

    const flat = (await (await fetch(`${base}/admin/metrics.json`)).json()) as Record<string, number>;
    const scope = `rt/h2/service/svc/kgr.test.TestService/client/$/inet/127.0.0.1/${backend.port}`;
    assert.equal(flat[`${scope}/grpc_code/OK/requests`], 9);
    assert.equal(flat[`${scope}/grpc_code/NOT_FOUND/requests`], 3);
    assert.equal(flat[`${scope}/request_duration_seconds.count`], 12);
    assert.ok(flat[`${scope}/request_duration_seconds.p50`]! > 0);
    assert.equal(flat['rt/h2/service/svc/kgr.test.TestService/requests'], 12);
    assert.equal(flat['rt/h2/service/svc/kgr.test.TestService/success'], 9);
    assert.equal(flat['rt/h2/service/svc/kgr.test.TestService/failures'], 3);
    assert.equal(flat[`rt/h2/client/$/inet/127.0.0.1/${backend.port}/streams_in_flight`], 0);
    assert.equal(flat[`rt/h2/client/$/inet/127.0.0.1/${backend.port}/endpoint/${endpoint}/result/success/endpoint_requests`], 9);
  } finally {
    client.close();
    await admin.close();
    await h.close();
    await backend.close();
  }
});

test('metricSeries.endpoints bounds the endpoint label values of kgr_endpoint_requests_total; every endpoint still takes calls', async () => {
  const BUDGET = 3;
  const names = ['a', 'b', 'c', 'd', 'e'];
  const backends = await Promise.all(names.map(async (name) => Object.assign(await startTestServer({ name }), { name })));
  const h = await startRouter(`${SVC} => /#/test/big`, { metricSeries: { ...defaultMetricSeriesConfig(), endpoints: BUDGET } });
  const client = testClient(h.target);
  const calls = async (n: number) => {
    const served = new Set<string>();
    for (let i = 0; i < n; i++) {
      const r = await unary(client, { message: `m${i}` });
      assert.equal(r.status?.code, 0);
      served.add(r.resp!.from);
    }
    return [...served].sort();
  };
  const endpointSeries = async () => {
    const m = parsePrometheus(await h.metrics.registry.metrics());
    const series = select(m.samples, 'kgr_endpoint_requests_total', { router: 'h2', client: '/#/test/big' });
    const labels = new Set(series.map((s) => s.labels['endpoint']!));
    return { m, series, own: [...labels].filter((e) => e !== OVERFLOW_LABEL), overflow: labels.has(OVERFLOW_LABEL) };
  };
  try {
    // One bound client whose address set has more endpoints than the budget.
    h.namer.serve('big', backends.map((b) => b.port));
    assert.deepEqual(await calls(4 * names.length), names, 'balancing still reaches every endpoint');
    const first = await endpointSeries();
    assert.ok(first.own.length <= BUDGET, `at most ${BUDGET} endpoints have series of their own: ${first.own.join(', ')}`);
    assert.ok(first.overflow, 'the rest count under endpoint="(overflow)"');
    assert.equal(first.series.reduce((n, s) => n + s.value, 0), 4 * names.length, 'every call is counted once, own series or overflow');
    assert.ok(one(first.m.samples, 'kgr_limits_reached_total', { router: 'h2', limit: 'metricSeries.endpoints' }) > 0);

    // Endpoints that go take their series, and their places in the budget, with them.
    const kept = backends.filter((b) => !first.own.includes(`127.0.0.1:${b.port}`));
    h.namer.serve('big', kept.map((b) => b.port));
    const second = await endpointSeries();
    assert.deepEqual(second.own, [], 'the removed endpoints\' series left /metrics');
    const added = await Promise.all(['f', 'g'].map(async (name) => Object.assign(await startTestServer({ name }), { name })));
    backends.push(...added);
    h.namer.serve('big', [...kept, ...added].map((b) => b.port));
    assert.deepEqual(await calls(4 * (kept.length + added.length)), [...kept, ...added].map((b) => b.name).sort());
    const third = await endpointSeries();
    assert.deepEqual(third.own.sort(), added.map((b) => `127.0.0.1:${b.port}`).sort(), 'new endpoints took the freed places');
  } finally {
    client.close();
    await h.close();
    await Promise.all(backends.map((b) => b.close()));
  }
});
