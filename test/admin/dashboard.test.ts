import { defaultBindingCacheConfig, defaultMetricSeriesConfig, defaultServerConfig } from '../../src/config/load.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import * as grpc from '@grpc/grpc-js';
import { adminRouter, dentriesBefore, startAdmin } from '../../src/admin/server.js';
import { Router } from '../../src/router/router.js';
import { NameInterpreter, parseDtab } from '../../src/dtab/index.js';
import { DtabFile } from '../../src/config/dtab-file.js';
import type { RouterConfig } from '../../src/config/types.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { Logger } from '../../src/util/log.js';
import { startEchoServer, type EchoServer } from '../../examples/echo/server.js';
import { echoClient, type EchoClient } from '../../examples/echo/client.js';
import { openBrowser, treePaths } from './browser.js';
import { eventually } from '../support/eventually.js';
import { globalNamer } from '../../src/namers/global.js';

/**
 * The dashboard in a real Chromium, in front of the real Router carrying real gRPC traffic to two
 * echo backends, routed through a live dtab file. Checks what an operator looks at: the dtab and
 * its source, the playground's tree for the service, drawn before any request was made with the
 * branch routing takes highlighted; then non-zero rates for the service under load and the
 * backends in the endpoint table; then a broken edit of the dtab file shown with line and column
 * while the last good dtab keeps routing.
 */

const SERVICE = 'com.example.grpc.EchoService';

function routerConfig(dtab: string, dtabFile: string): RouterConfig {
  return {
    protocol: 'h2',
    label: 'h2',
    servers: [
      { ...defaultServerConfig(), port: 0 },
    ],
    identifier: [{ kind: 'io.l5d.header.path', header: ':path', segments: 1 }],
    dstPrefix: '/svc',
    dtab,
    interpreter: { kind: 'io.l5d.fs', dtabFile },
    bindingTimeoutMs: 5000,
    client: {
      loadBalancer: { kind: 'p2c', decayTimeMs: 10000 },
      // Off, so the test's deliberate failures never eject a backend mid-test.
      failureAccrual: { kind: 'none' },
      maxAttempts: 3,
      keepAliveIntervalMs: 0,
      keepAliveTimeoutMs: 20000,
      connectTimeoutMs: 3000,
      maxConnectionsPerEndpoint: 256,
      maxStreamsPerConnection: 0,
      sendTimeoutMs: 60_000,
      maxResetsPerConnection: 200,
      resetsRefillPerSecond: 33,
    },
    service: {},
    bindingCache: defaultBindingCacheConfig(),
    metricSeries: defaultMetricSeriesConfig(),
  };
}

const numberIn = async (page: Page, selector: string) => Number.parseFloat((await page.locator(selector).first().textContent()) ?? 'NaN');

test('dashboard in Chromium over the real Router: playground before traffic, then live rates and endpoints', { timeout: 60000 }, async () => {
  const backends: EchoServer[] = [await startEchoServer({ name: 'echo-a' }), await startEchoServer({ name: 'echo-b' })];
  const [a, b] = backends.map((s) => `/$/inet/127.0.0.1/${s.port}`) as [string, string];
  // No k8s namer is configured, so the first Alt branch is Neg and routing takes the second: the
  // live file's 3:1 union over the two echo backends.
  const baseText = '/svc => /#/io.l5d.k8s/default/grpc | /echo;';
  const fileText = `/echo => 3 * ${a} & 1 * ${b};\n`;
  const dir = mkdtempSync(join(tmpdir(), 'kgr-dashboard-'));
  const dtabPath = join(dir, 'dtab');
  writeFileSync(dtabPath, fileText);
  const metrics = new Metrics();
  const log = Logger.silent();
  const config = routerConfig(baseText, dtabPath);
  const dtabFile = new DtabFile({ path: dtabPath, base: parseDtab(baseText), baseText, router: 'h2', metrics, log });
  await dtabFile.start();
  const interpreter = new NameInterpreter({ global: globalNamer() });
  const router = new Router(config, { interpreter, dtab: dtabFile.dtab, dtabStatus: () => dtabFile.status(), metrics, log });
  await router.start();
  const admin = await startAdmin(
    { ip: '127.0.0.1', port: 0, controlEnabled: false, maxConnections: 1000, maxConnectionsPerClient: 16 },
    {
      routers: [adminRouter(router, interpreter, dentriesBefore(dtabFile.dtab, parseDtab(baseText)))],
      namers: [],
      metrics,
      log,
      effectiveConfig: { routers: [config] },
      readiness: () => (router.ready ? { ready: true, reasons: [] } : { ready: false, reasons: ['router h2 not serving'] }),
      version: 'test',
    },
  );
  const browser = await openBrowser();
  const { page } = browser;
  const base = `http://127.0.0.1:${admin.port}`;
  let stop = false;
  const clients: EchoClient[] = [];
  const load: Promise<void>[] = [];
  try {
    // 1. The playground, before any request has gone through the router.
    await page.goto(`${base}/#dtab`);
    await page.locator('#pg-tree[data-answers]').waitFor({ state: 'attached', timeout: 10000 });
    assert.equal(await page.inputValue('#pg-path'), `/svc/${SERVICE}`);
    assert.equal(await page.locator('#pg-tree .dnode').count() > 0, true, (await page.locator('#pg-summary').textContent()) ?? '');
    assert.deepEqual((await treePaths(page, '.dnode.chosen[data-type="leaf"]')).sort(), [a, b].sort(), 'both union branches are the route');
    assert.deepEqual(await treePaths(page, '.dnode.unchosen[data-type="neg"]'), [`/#/io.l5d.k8s/default/grpc/${SERVICE}`], 'the Neg Alt branch is not');
    const tree = (await page.locator('#pg-tree').textContent()) ?? '';
    assert.match(tree, /75% of calls/);
    assert.match(tree, new RegExp(`127\\.0\\.0\\.1:${backends[0]!.port}`), 'leaves show the bound addresses');
    const effective = (await page.locator('.dentries').first().textContent()) ?? '';
    assert.match(effective, /\/echo\s*=>\s*3\.00\*\/\$\/inet/, 'effective dtab shows the file first');
    assert.match(effective, /\/svc\s*=>\s*\/#\/io\.l5d\.k8s\/default\/grpc \| \/echo/, 'then the router dtab');
    assert.ok(((await page.locator('#dtab-source .source').textContent()) ?? '').includes(dtabPath), 'the file is named as the source');
    assert.match((await page.locator('[data-field="last-error"]').textContent()) ?? '', /none/);
    assert.equal(await metrics.requests.get().then((m) => m.values.length), 0, 'no request has been made yet');

    // 2. Real gRPC traffic through the router.
    const routerPort = router.boundPorts[0]!.port;
    for (let i = 0; i < 4; i++) {
      const client = echoClient(`127.0.0.1:${routerPort}`);
      clients.push(client);
      load.push(
        (async () => {
          const until = Date.now() + 40000;
          while (!stop && Date.now() < until) await client.echo(`hello ${i}`);
        })(),
      );
    }
    // And a trickle of calls to a method the backends do not have: they answer UNIMPLEMENTED in a
    // trailers-only response, which must count as a failure although HTTP said 200.
    const raw = new grpc.Client(`127.0.0.1:${routerPort}`, grpc.credentials.createInsecure());
    clients.push({ close: () => raw.close() } as EchoClient);
    load.push(
      (async () => {
        const until = Date.now() + 40000;
        while (!stop && Date.now() < until) {
          await new Promise<void>((resolve) =>
            raw.makeUnaryRequest(`/${SERVICE}/NoSuchMethod`, (x: Buffer) => x, (x: Buffer) => x, Buffer.alloc(0), () => resolve()),
          );
          await new Promise((r) => setTimeout(r, 20));
        }
      })(),
    );
    await page.goto(`${base}/#dashboard`);
    await page.locator('.router[data-router="h2"]').waitFor({ timeout: 10000 });
    await eventually('router requests/s above zero', async () => (await numberIn(page, '.router[data-router="h2"] .t-rps .value')) > 0);
    await eventually('service requests/s above zero', async () => (await numberIn(page, `tr[data-service="/svc/${SERVICE}"] .s-rps`)) > 0);
    await eventually('UNIMPLEMENTED counted from trailers', async () => (await page.locator('.router [data-code="UNIMPLEMENTED"]').count()) === 1);
    await eventually('success rate below 100%', async () => {
      const rate = Number.parseFloat((await page.locator('.t-success .value').textContent()) ?? '');
      return rate > 50 && rate < 100;
    });
    await eventually('p99 latency shown', async () => /ms|s$/.test((await page.locator('.t-p99 .value').textContent()) ?? ''));
    for (const backend of backends) {
      const row = page.locator(`tr[data-endpoint="127.0.0.1:${backend.port}"]`);
      await eventually(`endpoint 127.0.0.1:${backend.port} listed with requests`, async () => (await row.count()) === 1 && Number(await row.locator('td').nth(5).textContent()) > 0);
      assert.equal(await row.locator('.badge').textContent(), 'connected');
    }
    assert.equal(await page.locator('.client .badge.lb').first().textContent(), 'p2c');
    assert.match((await page.locator('.router [data-code="OK"]').textContent()) ?? '', /^OK [\d.]+k?\/s \([\d.]+%\)$/, 'gRPC status breakdown');
    // A few seconds of history for the charts in the screenshot.
    await page.waitForTimeout(4000);
    await browser.screenshot('dashboard.png');

    // 3. A broken edit of the dtab file: shown with line and column; the last good dtab stays.
    writeFileSync(dtabPath, `${fileText}/svc/x => /oops bad;\n`);
    await page.goto(`${base}/#dtab`);
    await eventually('the broken edit is reported', async () =>
      /line 2, column \d+: expected/.test((await page.locator('[data-field="last-error"]').textContent()) ?? ''),
    );
    assert.deepEqual((await treePaths(page, '.dnode.chosen[data-type="leaf"]')).sort(), [a, b].sort(), 'routing is unchanged');
    await browser.screenshot('dtab.png');
    assert.deepEqual(browser.pageErrors, [], 'no script errors on the page');
  } finally {
    stop = true;
    await Promise.allSettled(load);
    for (const c of clients) c.close();
    await browser.close();
    await admin.close();
    await router.close();
    await dtabFile.close();
    await Promise.all(backends.map((s) => s.close()));
    rmSync(dir, { recursive: true, force: true });
  }
});
