import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { CellCounter } from '../../src/telemetry/counter-cells.js';
import { CellGauge } from '../../src/telemetry/gauge-cells.js';
import { CellHistogram } from '../../src/telemetry/histogram-cells.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { flatMetrics, toFlatObject } from '../../src/admin/metrics-json.js';
import { histogramOf, one, parsePrometheus, select } from './prometheus-text.js';

const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

async function scrape(registry: Registry) {
  return parsePrometheus(await registry.metrics());
}

test('counter cells: one cell per label set, growth published at every read, untouched cells have no series', async () => {
  const registry = new Registry();
  const c = new CellCounter({ name: 't_requests_total', help: 'h', labelNames: ['router', 'code'] as const, registers: [registry] });
  const ok = c.cell({ router: 'h2', code: 'OK' });
  assert.equal(c.cell({ code: 'OK', router: 'h2' }), ok, 'the same label values find the same cell, in any key order');
  const idle = c.cell({ router: 'h2', code: 'INTERNAL' });
  assert.notEqual(idle, ok);

  let s = await scrape(registry);
  assert.equal(s.types.get('t_requests_total'), 'counter');
  assert.equal(select(s.samples, 't_requests_total').length, 0, 'nothing counted yet, no series');

  for (let i = 0; i < 5; i++) ok.inc();
  ok.value += 2;
  s = await scrape(registry);
  assert.equal(one(s.samples, 't_requests_total', { code: 'OK' }), 7);
  assert.equal(select(s.samples, 't_requests_total', { code: 'INTERNAL' }).length, 0);

  // A read with nothing new changes nothing; the next one adds only the growth.
  assert.equal(one((await scrape(registry)).samples, 't_requests_total', { code: 'OK' }), 7);
  ok.inc(3);
  c.inc({ router: 'h2', code: 'OK' }, 10); // direct use of the family still adds up with the cell
  assert.equal(one((await scrape(registry)).samples, 't_requests_total', { code: 'OK' }), 20);
  // get() (what the admin's sampler reads) runs the same hook.
  ok.inc();
  const got = await c.get();
  assert.deepEqual(got.values, [{ value: 21, labels: { router: 'h2', code: 'OK' } }]);
  assert.equal(one((await scrape(registry)).samples, 't_requests_total', { code: 'OK' }), 21, 'a get() in between does not double-count');
});

test('counter cells keep a collect hook of their own', async () => {
  const registry = new Registry();
  let calls = 0;
  const c = new CellCounter({
    name: 't_hooked_total',
    help: 'h',
    labelNames: ['k'] as const,
    registers: [registry],
    collect() {
      calls++;
    },
  });
  c.cell({ k: 'a' }).inc();
  assert.equal(one((await scrape(registry)).samples, 't_hooked_total', { k: 'a' }), 1);
  assert.equal(calls, 1);
});

test('gauge cells: ups and downs published as the value at each read', async () => {
  const registry = new Registry();
  const g = new CellGauge({ name: 't_in_flight', help: 'h', labelNames: ['client'] as const, registers: [registry] });
  const a = g.cell({ client: '/a' });
  let s = await scrape(registry);
  assert.equal(s.types.get('t_in_flight'), 'gauge');
  assert.equal(one(s.samples, 't_in_flight', { client: '/a' }), 0, 'a resolved gauge reads 0 from the first read');
  a.inc();
  a.inc();
  a.inc();
  a.dec();
  assert.equal(one((await scrape(registry)).samples, 't_in_flight', { client: '/a' }), 2);
  a.dec();
  a.dec();
  assert.equal(one((await scrape(registry)).samples, 't_in_flight', { client: '/a' }), 0, 'back to 0 is published, not left at 2');
  g.set({ client: '/b' }, 4); // direct use of other series is untouched by the cells
  assert.equal(one((await scrape(registry)).samples, 't_in_flight', { client: '/b' }), 4);
});

test('histogram cells: cumulative le buckets, a value on a bound counts in that bucket, +Inf equals the count, sum', async () => {
  const registry = new Registry();
  const h = new CellHistogram({ name: 't_seconds', help: 'h', labelNames: ['router', 'service'] as const, buckets: [0.001, 0.01, 0.1], registers: [registry] });
  const cell = h.cell({ router: 'h2', service: '/svc/A' });
  h.cell({ router: 'h2', service: '/svc/idle' });
  for (const v of [0.0002, 0.001, 0.004, 0.01, 0.05, 0.1, 0.7, 12]) cell.observe(v);

  const s = await scrape(registry);
  assert.equal(s.types.get('t_seconds'), 'histogram');
  const got = histogramOf(s.samples, 't_seconds', { router: 'h2', service: '/svc/A' });
  assert.deepEqual(got.bounds, [0.001, 0.01, 0.1, Infinity]);
  assert.deepEqual(got.cumulative, [2, 4, 6, 8]);
  assert.equal(got.count, 8);
  assert.ok(Math.abs(got.sum - 12.8652) < 1e-9, `sum ${got.sum}`);
  assert.equal(select(s.samples, 't_seconds_count', { service: '/svc/idle' }).length, 0, 'nothing observed, no series');

  // The same numbers through get() (the dashboard sampler) and getMetricsAsJSON() (metrics.json).
  const viaGet = await h.get();
  const bucket = (le: number | string) => viaGet.values.find((v) => v.metricName === 't_seconds_bucket' && (v.labels as Record<string, unknown>).le === le)?.value;
  assert.equal(bucket(0.01), 4);
  assert.equal(bucket('+Inf'), 8);
  assert.equal(viaGet.values.find((v) => v.metricName === 't_seconds_count')?.value, 8);
  const json = (await registry.getMetricsAsJSON()).find((f) => f.name === 't_seconds');
  assert.equal(json?.type, 'histogram');
  assert.deepEqual(json?.values, viaGet.values);

  // Direct observations on the family and the cell's add up in one series.
  h.observe({ router: 'h2', service: '/svc/A' }, 0.005);
  const merged = histogramOf((await scrape(registry)).samples, 't_seconds', { router: 'h2', service: '/svc/A' });
  assert.deepEqual(merged.cumulative, [2, 5, 7, 9]);
  assert.equal(select((await scrape(registry)).samples, 't_seconds_count').length, 1, 'one series, not two');
});

test('histogram cells feed metrics.json the same stats as prom-client children did', async () => {
  const labels = { router: 'h2', service: '/svc/A', client: '/$/inet/127.0.0.1/1' };
  const viaCells = new Metrics({ processMetrics: false });
  const viaChildren = new Metrics({ processMetrics: false });
  const cell = viaCells.requestDuration.cell(labels);
  const child = viaChildren.requestDuration.labels(labels);
  for (let i = 0; i < 200; i++) {
    const v = ((i * 7919) % 1000) / 10_000;
    cell.observe(v);
    child.observe(v);
  }
  const a = toFlatObject(await flatMetrics(viaCells.registry));
  const b = toFlatObject(await flatMetrics(viaChildren.registry));
  assert.deepEqual(a, b);
  assert.equal(a['rt/h2/service/svc/A/client/$/inet/127.0.0.1/1/request_duration_seconds.count'], 200);
});

test('cells and prom-client children give the same exposition for the same streams, read at any moments', async () => {
  const services = ['/svc/A', '/svc/B'];
  const clients = ['/$/inet/127.0.0.1/1', '/#/io.l5d.k8s/ns/grpc/b'];
  const codes = ['OK', 'NOT_FOUND', 'UNAVAILABLE'];
  const stream = fc.record({
    service: fc.nat(1),
    client: fc.nat(1),
    code: fc.nat(2),
    seconds: fc.oneof(fc.constantFrom(...BUCKETS), fc.double({ min: 0, max: 40, noNaN: true })),
    bytesIn: fc.nat(100_000),
    bytesOut: fc.nat(100_000),
    scrape: fc.boolean(),
  });
  await fc.assert(
    fc.asyncProperty(fc.array(stream, { maxLength: 60 }), async (streams) => {
      // The old way: labelled children of plain prom-client families.
      const old = new Registry();
      const requests = new Counter({ name: 'kgr_requests_total', help: 'h', labelNames: ['router', 'service', 'client', 'grpc_code'] as const, registers: [old] });
      const duration = new Histogram({ name: 'kgr_request_duration_seconds', help: 'h', labelNames: ['router', 'service', 'client'] as const, buckets: BUCKETS, registers: [old] });
      const inFlight = new Gauge({ name: 'kgr_streams_in_flight', help: 'h', labelNames: ['router', 'client'] as const, registers: [old] });
      const bytes = new Counter({ name: 'kgr_bytes_total', help: 'h', labelNames: ['router', 'client', 'direction'] as const, registers: [old] });
      // The new way: the router's own families, through cells.
      const m = new Metrics({ processMetrics: false });
      for (const s of streams) {
        const service = services[s.service]!;
        const client = clients[s.client]!;
        const code = codes[s.code]!;
        inFlight.labels({ router: 'h2', client }).inc();
        inFlight.labels({ router: 'h2', client }).dec();
        requests.labels({ router: 'h2', service, client, grpc_code: code }).inc();
        duration.labels({ router: 'h2', service, client }).observe(s.seconds);
        if (s.bytesIn > 0) bytes.labels({ router: 'h2', client, direction: 'request' }).inc(s.bytesIn);
        if (s.bytesOut > 0) bytes.labels({ router: 'h2', client, direction: 'response' }).inc(s.bytesOut);

        const g = m.streamsInFlight.cell({ router: 'h2', client });
        g.inc();
        g.dec();
        m.requests.cell({ router: 'h2', service, client, grpc_code: code }).inc();
        m.requestDuration.cell({ router: 'h2', service, client }).observe(s.seconds);
        m.bytes.cell({ router: 'h2', client, direction: 'request' }).inc(s.bytesIn);
        m.bytes.cell({ router: 'h2', client, direction: 'response' }).inc(s.bytesOut);
        if (s.scrape) await m.registry.metrics();
      }
      const families = ['kgr_requests_total', 'kgr_request_duration_seconds', 'kgr_streams_in_flight', 'kgr_bytes_total'];
      const lines = (text: string) =>
        text
          .split('\n')
          .filter((l) => families.some((f) => l.startsWith(f)) || /^# TYPE kgr_(requests_total|request_duration_seconds|streams_in_flight|bytes_total) /.test(l))
          .sort();
      assert.deepEqual(lines(await m.registry.metrics()), lines(await old.metrics()));
    }),
    { numRuns: 60 },
  );
});

test('bad cells are refused with the family and label named', () => {
  const registry = new Registry();
  const c = new CellCounter({ name: 't_bad_total', help: 'h', labelNames: ['router'] as const, registers: [registry] });
  assert.throws(() => c.cell({ router: 'h2', rooter: 'x' } as never), /metric t_bad_total: unknown label "rooter" \(its labels are: router\)/);
  assert.throws(() => new CellHistogram({ name: 't_h', help: 'h', labelNames: ['a'], registers: [registry] }), /metric t_h: a cell histogram needs its buckets given/);
  assert.throws(() => new CellHistogram({ name: 't_h2', help: 'h', buckets: [1, 0.5], registers: [registry] }), /metric t_h2: bucket bounds must increase \(1 then 0\.5\)/);
});

test('registry.resetMetrics() zeroes cell series too', async () => {
  const m = new Metrics({ processMetrics: false });
  const labels = { router: 'h2', service: '/svc/A', client: '/c' };
  const h = m.requestDuration.cell(labels);
  const c = m.requests.cell({ ...labels, grpc_code: 'OK' });
  h.observe(0.002);
  c.inc();
  assert.equal(one((await scrape(m.registry)).samples, 'kgr_request_duration_seconds_count'), 1);
  m.registry.resetMetrics();
  let s = await scrape(m.registry);
  assert.equal(select(s.samples, 'kgr_request_duration_seconds_count').length, 0);
  assert.equal(select(s.samples, 'kgr_requests_total').length, 0);
  h.observe(0.002);
  c.inc();
  s = await scrape(m.registry);
  assert.equal(one(s.samples, 'kgr_request_duration_seconds_count'), 1);
  assert.equal(one(s.samples, 'kgr_requests_total'), 1);
});
