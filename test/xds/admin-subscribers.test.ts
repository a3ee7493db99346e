import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TYPE_URLS } from '../../src/xds/protos.js';
import { openBrowser } from '../admin/browser.js';
import { eventually } from '../support/eventually.js';
import { adsClient, AdsClient, line, startControl } from './harness.js';

/**
 * The control plane's admin shows its subscribers: three real ADS streams over grpc-js (one
 * current, with a locality; one that NACKs; one that stops ACKing while endpoints change) read
 * back through `/xds/subscribers.json` and in a real Chromium on the Subscribers tab.
 */

const ECHO = '/#/io.l5d.fs/echo.Echo';
const NACK = 'listener rejected: <no filter named router> & more';

test('/xds/subscribers.json and the Subscribers tab: node, peer, names, ACKed versions, the NACK, a lagging subscriber most behind first', async () => {
  const c = await startControl({ endpoints: { 'echo.Echo': [line(9001)] } });
  const client = adsClient(c.address);
  const streams: AdsClient[] = [];
  const admin = `http://127.0.0.1:${c.plane.admin.port}`;
  const json = async (query = '') => {
    const res = await fetch(`${admin}/xds/subscribers.json${query}`);
    assert.equal(res.status, 200, await res.clone().text());
    return (await res.json()) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
  };
  try {
    // Current: ACKs its listener; sends its node with a cluster and a locality.
    const current = new AdsClient(client, 'node-current');
    streams.push(current);
    current.raw({ node: { id: 'node-current', cluster: 'edge', locality: { region: 'eu', zone: 'eu-1a', sub_zone: '' }, user_agent_name: 'kgr-test' }, type_url: TYPE_URLS.listener, resource_names: ['echo.Echo'] });
    const lds = await current.nextOf('listener');
    current.raw({ type_url: TYPE_URLS.listener, resource_names: ['echo.Echo'], response_nonce: lds.response.nonce, version_info: lds.response.version_info });

    // NACKs the only listener response it got.
    const nacking = new AdsClient(client, 'node-nack');
    streams.push(nacking);
    nacking.request('listener', ['echo.Echo']);
    nacking.request('listener', ['echo.Echo'], (await nacking.nextOf('listener')).response, NACK);

    // ACKs the first assignment, then reads two more without ACKing them.
    const lagging = new AdsClient(client, 'node-lagging');
    streams.push(lagging);
    lagging.request('endpoint', [ECHO]);
    lagging.request('endpoint', [ECHO], (await lagging.nextOf('endpoint')).response);
    c.endpoints('echo.Echo', [line(9001), line(9002)]);
    assert.equal((await lagging.nextOf('endpoint')).response.version_info, '2');
    c.endpoints('echo.Echo', [line(9002)]);
    assert.equal((await lagging.nextOf('endpoint')).response.version_info, '3');

    await eventually('the ACK and the NACK reach the server', async () => {
      const subs = c.plane.xds.subscribers();
      return subs.some((s) => s.types.listener?.lastNack) && subs.some((s) => s.node === 'node-current' && s.types.listener?.acked === '1') && subs.some((s) => s.types.endpoint?.acked === '1');
    });

    const view = await json();
    assert.deepEqual(view.totals, { streams: 3, subscriptions: 3, names: c.plane.xds.nameCount, nacking: 1, behind: 2 });
    assert.deepEqual({ listed: view.listed, more: view.more }, { listed: 3, more: 0 });
    assert.deepEqual(view.subscribers.map((s: { node: string; behind: number }) => [s.node, s.behind]), [['node-lagging', 2], ['node-nack', 1], ['node-current', 0]], 'most behind first');
    const [lag, nack, cur] = view.subscribers;
    assert.deepEqual(lag.types.endpoint, { nameCount: 1, names: [ECHO], version: '3', acked: '1', behind: 2, sentAt: lag.types.endpoint.sentAt });
    assert.ok(Date.parse(lag.types.endpoint.sentAt) >= Date.parse(lag.connectedAt), 'sent after it connected');
    assert.equal(nack.types.listener.acked, '', 'nothing ACKed');
    assert.equal(nack.types.listener.lastNack.error, NACK);
    assert.ok(Date.parse(nack.types.listener.lastNack.at) > 0, 'the NACK has a time');
    assert.deepEqual([cur.cluster, cur.locality, cur.types.listener.acked, cur.types.listener.behind], ['edge', 'eu/eu-1a', '1', 0]);
    assert.match(cur.peer, /^127\.0\.0\.1:\d+$/);
    assert.deepEqual(nack.cluster, 'test');

    // Bounded: ?limit= lists the most behind and counts the rest; a bad limit says what was wrong.
    const one = await json('?limit=1');
    assert.deepEqual([one.listed, one.more, one.subscribers[0].node, one.totals.streams], [1, 2, 'node-lagging', 3]);
    const bad = await fetch(`${admin}/xds/subscribers.json?limit=lots`);
    assert.equal(bad.status, 400);
    assert.equal((await bad.text()).trim(), 'Invalid limit "lots" in the query: expected an integer from 1 to 10000');
    assert.match(await (await fetch(`${admin}/admin`)).text(), /\/xds\/subscribers\.json +each ADS stream/);

    const browser = await openBrowser();
    try {
      const { page } = browser;
      await page.goto(`${admin}/#subscribers`);
      const rows = page.locator('table.subscribers tbody tr');
      await eventually('three subscriber rows', async () => (await rows.count()) === 3);
      assert.deepEqual(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-node'))), ['node-lagging', 'node-nack', 'node-current']);
      const lagRow = page.locator('tr[data-node="node-lagging"]');
      assert.match((await lagRow.locator('.lag[data-type="endpoint"]').textContent()) ?? '', /endpoint 1\/3 2 behind for \d+s/);
      assert.equal(await page.locator('tr[data-node="node-current"] .lag[data-type="listener"] .good').textContent(), 'current');
      // The error detail as the client sent it, escaped, not markup.
      assert.equal(await page.locator('tr[data-node="node-nack"] .nack[data-type="listener"] .err').textContent(), NACK);
      assert.match((await page.locator('tr[data-node="node-current"] td').first().textContent()) ?? '', /cluster edge · locality eu\/eu-1a/);
      // The names expand, and stay open across the once-a-second redraw.
      await lagRow.locator('details[data-type="endpoint"] summary').click();
      const updated = await page.locator('body').getAttribute('data-updated');
      await eventually('a redraw', async () => (await page.locator('body').getAttribute('data-updated')) !== updated);
      assert.equal(await page.locator('tr[data-node="node-lagging"] details[data-type="endpoint"] ul.names').textContent(), ECHO);
      assert.equal(await page.locator('tr[data-node="node-lagging"] details[data-type="endpoint"]').getAttribute('open'), '');
      await browser.screenshot('control-plane-subscribers.png');
      // The dashboard tab of a process without routers: its namers, no router panel, no dtab tab.
      await page.goto(`${admin}/#dashboard`);
      await page.locator('.card.namers').waitFor();
      assert.equal(await page.locator('.card.router').count(), 0);
      assert.equal(await page.locator('#routers').textContent().then((t) => t?.includes('No routers configured')), false);
      assert.equal(await page.locator('#tab-dtab').isVisible(), false);
      assert.equal(await page.locator('#tab-subscribers').textContent(), 'Subscribers');
      await browser.screenshot('control-plane-dashboard.png');
      assert.deepEqual(browser.pageErrors, []);
    } finally {
      await browser.close();
    }
  } finally {
    for (const s of streams) s.cancel();
    client.close();
    await c.close();
  }
});

test('a subscriber that gets nothing yet and one that ACKs a version never sent', async () => {
  const c = await startControl({ endpoints: { 'echo.Echo': [line(9001)] } });
  const client = adsClient(c.address);
  const s = new AdsClient(client, 'node-odd');
  try {
    s.request('listener', ['echo.Echo']);
    const lds = await s.nextOf('listener');
    s.raw({ type_url: TYPE_URLS.listener, resource_names: ['echo.Echo'], response_nonce: lds.response.nonce, version_info: '99' });
    await eventually('the odd ACK', async () => c.plane.xds.subscribers()[0]?.types.listener?.acked === '99');
    const view = (await (await fetch(`http://127.0.0.1:${c.plane.admin.port}/xds/subscribers.json`)).json()) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.equal(view.subscribers[0].types.listener.behind, 1, 'a version we never sent counts as nothing ACKed');
    assert.equal(s.ended, undefined);
  } finally {
    s.cancel();
    client.close();
    await c.close();
  }
});
