import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Metrics } from '../../src/telemetry/metrics.js';
import { one, parsePrometheus } from './prometheus-text.js';

async function scrape(m: Metrics) {
  const text = await m.registry.metrics();
  return parsePrometheus(text);
}

test('process metrics: CPU since the process started, memory, descriptors, start time, heap, event-loop lag, version', async () => {
  const m = new Metrics();
  const before = process.cpuUsage();
  const { types, samples } = await scrape(m);
  const after = process.cpuUsage();
  const user = one(samples, 'process_cpu_user_seconds_total');
  const system = one(samples, 'process_cpu_system_seconds_total');
  // Counted from the process's start, not from when the metrics were made.
  assert.ok(user >= before.user / 1e6 - 1e-6 && user <= after.user / 1e6 + 1e-6, `user ${user}`);
  assert.ok(system >= before.system / 1e6 - 1e-6 && system <= after.system / 1e6 + 1e-6, `system ${system}`);
  assert.ok(Math.abs(one(samples, 'process_cpu_seconds_total') - (user + system)) < 1e-6);
  for (const f of ['process_cpu_seconds_total', 'process_cpu_user_seconds_total', 'process_cpu_system_seconds_total']) assert.equal(types.get(f), 'counter');

  const rss = one(samples, 'process_resident_memory_bytes');
  const nowRss = process.memoryUsage.rss();
  assert.ok(rss > nowRss / 2 && rss < nowRss * 2, `rss ${rss} against ${nowRss}`);
  const start = one(samples, 'process_start_time_seconds');
  assert.ok(Math.abs(start - (Date.now() / 1000 - process.uptime())) < 2, `start ${start}`);
  assert.ok(one(samples, 'process_max_fds') > 0);
  const used = one(samples, 'nodejs_heap_size_used_bytes');
  assert.ok(used > 0 && used <= one(samples, 'nodejs_heap_size_total_bytes'));
  assert.ok(one(samples, 'nodejs_external_memory_bytes') >= 0);
  assert.ok(one(samples, 'nodejs_eventloop_lag_seconds') >= 0);
  assert.equal(one(samples, 'nodejs_version_info', { version: process.version }), 1);

  // Read at each scrape: one more open file is one more descriptor; CPU spent is counted.
  const fds = one(samples, 'process_open_fds');
  const fd = openSync(fileURLToPath(import.meta.url), 'r');
  try {
    const spinUntil = process.cpuUsage().user + 30_000;
    while (process.cpuUsage().user < spinUntil) { /* spend 30 ms of CPU */ }
    const next = (await scrape(m)).samples;
    assert.equal(one(next, 'process_open_fds'), fds + 1);
    assert.ok(one(next, 'process_cpu_user_seconds_total') >= user + 0.03, 'the CPU spent since the last scrape is counted');
  } finally {
    closeSync(fd);
  }
});

test("the router's metrics load neither prom-client's index nor @opentelemetry/api (7 MB of RSS)", () => {
  const metricsModule = new URL('../../src/telemetry/metrics.js', import.meta.url).href;
  const loaded = execFileSync(process.execPath, ['--input-type=module', '-e', `
    import { createRequire } from 'node:module';
    const { Metrics } = await import(${JSON.stringify(metricsModule)});
    const m = new Metrics();
    await m.registry.metrics();
    const cache = Object.keys(createRequire(import.meta.url).cache);
    console.log(JSON.stringify({ promClient: cache.filter((k) => k.includes('prom-client')).length, unwanted: cache.filter((k) => /opentelemetry|prom-client[\\\\/]index\\.js$/.test(k)) }));
  `]).toString();
  const { promClient, unwanted } = JSON.parse(loaded) as { promClient: number; unwanted: string[] };
  assert.ok(promClient > 0, 'prom-client modules are seen in the cache (the check can see them)');
  assert.deepEqual(unwanted, []);
});
