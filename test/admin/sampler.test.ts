import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DashboardSampler } from '../../src/admin/sampler.js';
import { quantileFromBuckets } from '../../src/admin/metrics-json.js';
import { Metrics } from '../../src/telemetry/metrics.js';

test('quantiles interpolate inside the bucket that holds the rank', () => {
  const bounds = [1, 2, 4, Infinity];
  assert.equal(quantileFromBuckets(bounds, [0, 0, 0, 0], 0.5), undefined, 'no observations, no answer');
  assert.equal(quantileFromBuckets(bounds, [10, 10, 10, 10], 0.5), 0.5, 'half of the first bucket');
  assert.equal(quantileFromBuckets(bounds, [0, 10, 20, 20], 0.75), 3, 'halfway through the (2, 4] bucket');
  assert.equal(quantileFromBuckets(bounds, [0, 0, 10, 20], 0.99), 4, 'the +Inf bucket answers its lower edge');
});

test('the sampler turns registry deltas into success rate by gRPC status and percentiles, per router, service and client', async () => {
  const metrics = new Metrics({ processMetrics: false });
  const sampler = new DashboardSampler(metrics, 3);
  const labels = { router: 'h2', service: '/svc/Echo', client: '/$/inet/127.0.0.1/1' };
  // Traffic before the baseline must not count.
  metrics.requests.inc({ ...labels, grpc_code: 'INTERNAL' }, 50);
  await sampler.sample();
  metrics.requests.inc({ ...labels, grpc_code: 'OK' }, 90);
  metrics.requests.inc({ ...labels, grpc_code: 'INTERNAL' }, 10);
  for (let i = 0; i < 80; i++) metrics.requestDuration.observe(labels, 0.004);
  for (let i = 0; i < 20; i++) metrics.requestDuration.observe(labels, 0.2);
  metrics.streamsInFlight.set({ router: 'h2', client: labels.client }, 4);
  metrics.retries.inc({ router: 'h2', client: labels.client, reason: 'refused' }, 2);
  await new Promise((r) => setTimeout(r, 20));
  await sampler.sample();

  const r = sampler.current('router', 'h2');
  assert.equal(r.successRate, 0.9);
  assert.ok(r.rps > 0);
  assert.deepEqual(Object.keys(r.byCode).sort(), ['INTERNAL', 'OK']);
  assert.ok(Math.abs(r.byCode.OK! / r.byCode.INTERNAL! - 9) < 1e-9);
  assert.ok(r.p50! > 2.5 && r.p50! <= 5, `p50 ${r.p50} ms in the 2.5–5 ms bucket`);
  assert.ok(r.p99! > 100 && r.p99! <= 250, `p99 ${r.p99} ms in the 100–250 ms bucket`);
  assert.equal(r.inFlight, 4);
  assert.ok(r.retriesPerSec > 0);
  assert.equal(sampler.current('service', 'h2', '/svc/Echo').successRate, 0.9);
  assert.equal(sampler.current('client', 'h2', labels.client).successRate, 0.9);
  assert.equal(sampler.current('router', 'other').successRate, null, 'an unknown router has no traffic');

  const series = sampler.series('h2');
  assert.equal(series.t.length, 1);
  assert.equal(series.successRate[0], 0.9);

  for (let i = 0; i < 10; i++) await sampler.sample();
  assert.equal(sampler.series('h2').t.length, 3, 'the ring keeps only its capacity');
  assert.equal(sampler.series('h2').rps.at(-1), 0, 'no traffic since: zero rate');
  assert.equal(sampler.series('h2').successRate.at(-1), null);
});
