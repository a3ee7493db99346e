import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { adminRouter, startAdmin, type AdminServer } from '../../src/admin/server.js';
import { NameInterpreter } from '../../src/dtab/interpreter.js';
import type { Addr } from '../../src/dtab/name.js';
import { parseDtab } from '../../src/dtab/parse.js';
import { globalNamer, resolvePolling } from '../../src/namers/global.js';
import { Router } from '../../src/router/router.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { Logger } from '../../src/util/log.js';
import { Var } from '../../src/util/var.js';
import { startTestServer, testClient, unary, type TestClient, type TestServer } from '../fixtures/grpc/test-service.js';
import { routerConfig } from '../router/setup.js';
import { openBrowser, treePaths, type BrowserSession } from './browser.js';
import { eventually } from '../support/eventually.js';

/**
 * The playground says what the real router does. One Router carries real gRPC calls to two test
 * backends (the name is the `x-route` header), and the dashboard in Chromium delegates the same
 * names through the same router; each case puts the page's account beside the router's answer.
 * The router's dtab ends with `;`, as every README example does.
 */

// nx.invalid answers Neg, as DNS answers NXDOMAIN for it: the test must not depend on a resolver.
const global = globalNamer({ resolveHost: (host, port) => (host === 'nx.invalid' ? Var.value<Addr>({ type: 'neg' }) : resolvePolling(host, port)) });

let a: TestServer;
let b: TestServer;
let router: Router;
let admin: AdminServer;
let browser: BrowserSession;
let client: TestClient;

before(async () => {
  [a, b] = await Promise.all([startTestServer({ name: 'a' }), startTestServer({ name: 'b' })]);
  const dtab = [
    `/svc/a => /$/inet/nx.invalid/80 | /$/inet/127.0.0.1/${a.port};`,
    `/svc/b => 0 * /$/inet/127.0.0.1/${a.port} & 0 * /$/inet/127.0.0.1/${b.port};`,
  ].join('\n');
  const interpreter = new NameInterpreter({ global });
  const metrics = new Metrics({ processMetrics: false });
  const config = routerConfig({ dtab, identifier: [{ kind: 'io.l5d.header.token', header: 'x-route' }] });
  router = new Router(config, { interpreter, dtab: Var.value(parseDtab(dtab)), metrics, log: Logger.silent() });
  await router.start();
  admin = await startAdmin(
    { ip: '127.0.0.1', port: 0, controlEnabled: false, maxConnections: 1000, maxConnectionsPerClient: 16 },
    {
      routers: [adminRouter(router, interpreter)],
      namers: [],
      metrics,
      log: Logger.silent(),
      effectiveConfig: {},
      readiness: () => ({ ready: true, reasons: [] }),
      version: 'test',
    },
  );
  client = testClient(`127.0.0.1:${router.boundPorts[0]!.port}`);
  browser = await openBrowser();
  await browser.page.goto(`http://127.0.0.1:${admin.port}/#dtab`);
  await browser.page.locator('#pg-tree[data-answers]').waitFor({ state: 'attached', timeout: 10000 });
});

after(async () => {
  client?.close();
  await browser?.close();
  await admin?.close();
  await router?.close();
  await Promise.all([a?.close(), b?.close()]);
});

/** Ask the page to delegate `path` (with extra dentries) and wait for its answer to be drawn. */
async function delegateOnPage(path: string, extra = ''): Promise<string> {
  const { page } = browser;
  const before = await page.locator('#pg-tree').getAttribute('data-answers');
  await page.fill('#pg-path', path);
  await page.fill('#pg-extra', extra);
  await page.click('#pg-go');
  await eventually('delegation answered', async () => (await page.locator('#pg-tree').getAttribute('data-answers')) !== before);
  return (await page.locator('#pg-summary').textContent()) ?? '';
}

function call(route: string, localDtab?: string) {
  const metadata = new grpc.Metadata();
  metadata.set('x-route', route);
  if (localDtab !== undefined) metadata.set('l5d-dtab', localDtab);
  return unary(client, { message: route }, { metadata, deadlineMs: 5000 });
}

test('(a) a bound name whose address set is Neg does not fall through: page and router both take nx.invalid', async () => {
  const r = await call('a');
  assert.equal(r.error?.code, grpc.status.UNAVAILABLE);
  assert.match(r.error?.details ?? '', /nx\.invalid/);

  const summary = await delegateOnPage('/svc/a');
  assert.deepEqual(await treePaths(browser.page, '.dnode.chosen[data-type="leaf"]'), ['/$/inet/nx.invalid/80']);
  assert.deepEqual(await treePaths(browser.page, '.dnode.unchosen[data-type="leaf"]'), [`/$/inet/127.0.0.1/${a.port}`]);
  assert.match(summary, /nx\.invalid/);
  assert.match(summary, /UNAVAILABLE/);
  assert.doesNotMatch(summary, new RegExp(`127\\.0\\.0\\.1:${a.port}`));
});

test('(b) an all-zero-weight union: the router spreads calls evenly, the page says so', async () => {
  const seen = new Set<string>();
  for (let i = 0; i < 40 && seen.size < 2; i++) {
    const r = await call('b');
    assert.equal(r.error, null);
    seen.add(r.resp!.from);
  }
  assert.equal(seen.size, 2, 'both backends receive calls');

  const summary = await delegateOnPage('/svc/b');
  assert.deepEqual((await treePaths(browser.page, '.dnode.chosen[data-type="leaf"]')).sort(), [`/$/inet/127.0.0.1/${a.port}`, `/$/inet/127.0.0.1/${b.port}`].sort());
  assert.doesNotMatch(summary, /No route/i);
  const tree = (await browser.page.locator('#pg-tree').textContent()) ?? '';
  assert.equal(tree.match(/50% of calls/g)?.length, 2);
});

test('(c) a missing route: the page names the status the router answers, UNAVAILABLE', async () => {
  const r = await call('c');
  assert.equal(r.error?.code, grpc.status.UNAVAILABLE);

  const summary = await delegateOnPage('/svc/c');
  assert.match(summary, /UNAVAILABLE/);
  assert.doesNotMatch(summary, /UNIMPLEMENTED/);
});

test("(d) extra dentries after a router dtab that ends with ';' are joined as dtabs, not text", async () => {
  const extra = `/svc/d => /$/inet/127.0.0.1/${b.port}`;
  const r = await call('d', extra);
  assert.equal(r.error, null);
  assert.equal(r.resp!.from, 'b');

  await delegateOnPage('/svc/d', extra);
  assert.equal(await browser.page.locator('#pg-summary .errbox').count(), 0, (await browser.page.locator('#pg-summary').textContent()) ?? '');
  assert.deepEqual(await treePaths(browser.page, '.dnode.chosen[data-type="leaf"]'), [`/$/inet/127.0.0.1/${b.port}`]);
  assert.deepEqual(browser.pageErrors, []);
});
