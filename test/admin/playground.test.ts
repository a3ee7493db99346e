import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adminRouter, startAdmin } from '../../src/admin/server.js';
import type { RouterSnapshot } from '../../src/introspection/snapshots.js';
import { NameInterpreter } from '../../src/dtab/index.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { Logger } from '../../src/util/log.js';
import { openBrowser, treePaths } from './browser.js';
import { eventually } from '../support/eventually.js';
import { globalNamer } from '../../src/namers/global.js';

/**
 * The playground's highlight rule in Chromium, over trees from the real dtab engine: an Alt takes
 * its first branch that is not Neg (so an explicit failure stops it even when a later branch would
 * bind), a Union takes its branches that bind, with their share of calls.
 */
function engineRouter(label: string) {
  const snapshot = (): RouterSnapshot => ({ label, servers: [], dtab: { base: '', effective: '' }, services: [], clients: [] });
  return adminRouter({ label, snapshot }, new NameInterpreter({ global: globalNamer() }));
}

test('playground: first non-Neg Alt branch, Union shares, syntax errors shown', { timeout: 60000 }, async () => {
  const metrics = new Metrics({ processMetrics: false });
  const admin = await startAdmin(
    { ip: '127.0.0.1', port: 0, controlEnabled: false, maxConnections: 1000, maxConnectionsPerClient: 16 },
    {
      routers: [engineRouter('h2')],
      namers: [],
      metrics,
      log: Logger.silent(),
      effectiveConfig: {},
      readiness: () => ({ ready: true, reasons: [] }),
      version: 'test',
    },
  );
  const browser = await openBrowser();
  const { page } = browser;
  const run = async (path: string, extra: string) => {
    const before = await page.locator('#pg-tree').getAttribute('data-answers');
    await page.fill('#pg-path', path);
    await page.fill('#pg-extra', extra);
    await page.click('#pg-go');
    await eventually('delegation answered', async () => (await page.locator('#pg-tree').getAttribute('data-answers')) !== before);
  };
  try {
    await page.goto(`http://127.0.0.1:${admin.port}/#dtab`);
    await page.locator('#pg-tree[data-answers]').waitFor({ state: 'attached', timeout: 10000 });

    // Fail is not Neg: the Alt stops there although /a would bind.
    await run('/svc/x', '/a => /$/inet/127.0.0.1/7001; /svc => /nothing | /$/fail | /a');
    assert.deepEqual(await treePaths(page, '.dnode.chosen[data-type="fail"]'), ['/$/fail/x']);
    assert.deepEqual(await treePaths(page, '.dnode.unchosen[data-type="leaf"]'), ['/$/inet/127.0.0.1/7001']);
    assert.deepEqual(await treePaths(page, '.dnode.unchosen[data-type="neg"]'), ['/nothing/x']);
    assert.match((await page.locator('#pg-summary').textContent()) ?? '', /Calls to this name fail with UNAVAILABLE \(no route\): the route ends in an explicit failure/);

    // Without the explicit failure, routing falls through the Neg branch to /a.
    await run('/svc/x', '/a => /$/inet/127.0.0.1/7001; /svc => /nothing | /a');
    assert.deepEqual(await treePaths(page, '.dnode.chosen[data-type="leaf"]'), ['/$/inet/127.0.0.1/7001']);
    assert.match((await page.locator('#pg-summary').textContent()) ?? '', /Routing sends this name to \/\$\/inet\/127\.0\.0\.1\/7001 \(127\.0\.0\.1:7001\)/);

    // A Union routes to every branch that binds, in proportion to the weights.
    await run('/svc/x', '/svc => 1 * /$/inet/127.0.0.1/7001 & 3 * /$/inet/127.0.0.1/7002');
    assert.deepEqual((await treePaths(page, '.dnode.chosen[data-type="leaf"]')).sort(), ['/$/inet/127.0.0.1/7001', '/$/inet/127.0.0.1/7002']);
    const tree = (await page.locator('#pg-tree').textContent()) ?? '';
    assert.match(tree, /25% of calls/);
    assert.match(tree, /75% of calls/);

    // Later dentries win, as with l5d-dtab.
    await run('/svc/x', '/svc => /$/inet/127.0.0.1/7001; /svc => /$/inet/127.0.0.1/7002');
    assert.deepEqual(await treePaths(page, '.dnode.chosen[data-type="leaf"]'), ['/$/inet/127.0.0.1/7002']);

    await browser.screenshot('playground.png');

    // Bad input comes back as the delegator's 400, with line and column.
    await run('/svc/x', '/svc => ');
    assert.match((await page.locator('#pg-summary .errbox').textContent()) ?? '', /400: Invalid dtab: dtab line \d+, column \d+: expected/);
    assert.equal(await page.locator('#pg-tree .dnode').count(), 0);
    assert.deepEqual(browser.pageErrors, []);
  } finally {
    await browser.close();
    await admin.close();
  }
});
