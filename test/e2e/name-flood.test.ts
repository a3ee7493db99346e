import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { echoClient } from '../../examples/echo/client.js';
import { startEchoServer, type EchoServer } from '../../examples/echo/server.js';
import { flood, type FloodKind } from '../fixtures/name-flood.js';
import { parsePrometheus, select, type Sample } from '../telemetry/prometheus-text.js';
import { freePort, get, startCli, type Started } from './process.js';
import { eventually } from '../support/eventually.js';

const SERVICE = 'com.example.grpc.EchoService';
const seriesKey = (s: Sample) => `${s.name}${JSON.stringify(s.labels)}`;
// The product's defaults (README "Limits"): well above the flood's 128 calls in flight, which are
// never evicted.
const LIMITS = { paths: 1000, clients: 1000, clientSeries: 500, routeSeries: 1000 };

/**
 * Issue 16's flood, against the real CLI process: 100,000 distinct names, each call naming something
 * new — an unknown service, an `l5d-dtab` override to a new address, or both (two names a call) —
 * while a real service keeps being routed. The calls that name an address (a refused connect each,
 * the router's dearest path at ~1 ms a call) are 10,000: still 10 times the clients table and 20
 * times the client series budget; the cheap unknown-service calls make up the rest. What is asserted are counts (table sizes and metric series read from /metrics), not
 * time or memory: every table stays within its configured bound during the flood, names only a
 * flood made are released once it stops, and the real service never notices.
 */
test('100,000 client-chosen names: every table and metric family stays bounded, and what they held is released', { timeout: 600_000 }, async (t) => {
  const backend: EchoServer = await startEchoServer({ name: 'real' });
  const dir = mkdtempSync(join(tmpdir(), 'kgr-flood-'));
  let proc: Started | undefined;
  t.after(async () => {
    await proc?.kill();
    await backend.close();
    rmSync(dir, { recursive: true, force: true });
  });
  mkdirSync(join(dir, 'endpoints'));
  writeFileSync(join(dir, 'endpoints', SERVICE), `127.0.0.1 ${backend.port}\n`);
  const [routerPort, adminPort] = [await freePort(), await freePort()];
  writeFileSync(
    join(dir, 'config.yaml'),
    `admin: {ip: 127.0.0.1, port: ${adminPort}}
namers:
- {kind: io.l5d.fs, rootDir: endpoints}
routers:
- protocol: h2
  label: flood
  dtab: /svc => /#/io.l5d.fs;
  bindingCache: {paths: ${LIMITS.paths}, clients: ${LIMITS.clients}, transientIdleTtlSecs: 1}
  metricSeries: {clients: ${LIMITS.clientSeries}, routes: ${LIMITS.routeSeries}}
  servers: [{ip: 127.0.0.1, port: ${routerPort}}]
shutdownDelay: 0s
shutdownGrace: 1s
`,
  );
  proc = startCli(['--config', join(dir, 'config.yaml'), '--log-level', 'warn']);
  await eventually('/ready answering 200', async () => (await get(`http://127.0.0.1:${adminPort}/ready`)).status === 200);

  const target = `127.0.0.1:${routerPort}`;
  const echo = echoClient(target);
  t.after(() => echo.close());
  const metrics = async (): Promise<Sample[]> => parsePrometheus((await get(`http://127.0.0.1:${adminPort}/metrics`)).body).samples;
  const table = (samples: Sample[], name: string) => select(samples, 'kgr_table_entries', { router: 'flood', table: name })[0]?.value ?? 0;
  const distinct = (samples: Sample[], family: string, label: string) => new Set(select(samples, family).map((s) => s.labels[label])).size;

  // The real service is routed, and is what a quiet router's tables hold.
  assert.equal((await echo.echo('before', { deadlineMs: 5000 })).from, 'real');
  const quiet = await metrics();
  assert.equal(table(quiet, 'clients'), 1);

  let offset = 0;
  let seriesDuring = 0;
  let names = 0;
  for (const [kind, calls] of [['service', 85_000], ['override', 5_000], ['both', 5_000]] as [FloodKind, number][]) {
    const result = await flood({ target, kind, calls, offset, concurrency: 128 });
    offset += calls;
    names += kind === 'both' ? 2 * calls : calls;
    // Every flood call was answered by the router (UNAVAILABLE: no route, or the address refused), none lost.
    assert.deepEqual([...result.byStatus], [['14', calls]], `${kind}: ${JSON.stringify([...result.messages])}`);

    const during = await metrics();
    seriesDuring = Math.max(seriesDuring, during.length);
    assert.ok(table(during, 'bindings') <= LIMITS.paths, `${kind}: bindings ${table(during, 'bindings')}`);
    assert.ok(table(during, 'clients') <= LIMITS.clients, `${kind}: clients ${table(during, 'clients')}`);
    // +1: the shared "(overflow)" value.
    assert.ok(distinct(during, 'kgr_requests_total', 'client') <= LIMITS.clientSeries + 1);
    assert.ok(distinct(during, 'kgr_request_duration_seconds_count', 'client') <= LIMITS.clientSeries + 1);
    assert.ok(distinct(during, 'kgr_endpoint_requests_total', 'endpoint') <= LIMITS.clientSeries + 1);
    assert.ok(select(during, 'kgr_request_duration_seconds_count').length <= LIMITS.routeSeries + LIMITS.clientSeries + 1);
    // Unknown services never reach a client: they add no series keyed by a name.
    if (kind === 'service') {
      const before = new Set(quiet.map(seriesKey));
      const named = during.filter((s) => !before.has(seriesKey(s)) && ['client', 'service', 'endpoint'].some((l) => l in s.labels));
      assert.deepEqual(named.map(seriesKey), []);
    }
  }
  assert.equal(names, 100_000);
  // The floods with overrides went past the series budgets and said so.
  const tripped = await metrics();
  for (const limit of ['bindingCache.paths', 'metricSeries.clients']) {
    const trips = select(tripped, 'kgr_limits_reached_total', { router: 'flood', limit })[0]?.value ?? 0;
    assert.ok(trips > 0, `${limit} tripped`);
  }
  assert.ok(seriesDuring < 25_000, `at most ${seriesDuring} samples in /metrics during the flood`);

  // Once the flood stops, what it made is released within the transient idle TTL (1 s here).
  await eventually("the flood's names released", async () => {
    const after = await metrics();
    assert.equal(table(after, 'clients'), 1, 'only the real service keeps a client');
    assert.ok(table(after, 'bindings') <= 1, `bindings left: ${table(after, 'bindings')}`);
    // Per-name series went with their names; the overflow series keep the flood's totals (a fixed number of them).
    for (const family of ['kgr_requests_total', 'kgr_request_duration_seconds_count', 'kgr_endpoint_requests_total', 'kgr_bytes_total', 'kgr_client_connects_total']) {
      assert.deepEqual([...new Set(select(after, family).map((s) => s.labels.client))].sort(), ['(overflow)', '/#/io.l5d.fs/' + SERVICE], family);
    }
    return true;
  }, 15_000);
  // The real service was never disturbed: still routed, on the client (and series) it had.
  assert.equal((await echo.echo('after', { deadlineMs: 5000 })).from, 'real');
  const ok = select(await metrics(), 'kgr_requests_total', { client: '/#/io.l5d.fs/' + SERVICE, grpc_code: 'OK' })[0]?.value;
  assert.equal(ok, 2);
});
