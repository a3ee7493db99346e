import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adminRouter, startAdmin } from '../../src/admin/server.js';
import { NameInterpreter } from '../../src/dtab/index.js';
import { globalNamer } from '../../src/namers/global.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { Logger } from '../../src/util/log.js';
import { Router } from '../../src/router/router.js';
import { parseDtab } from '../../src/dtab/parse.js';
import { Var } from '../../src/util/var.js';
import { routerConfig } from '../router/setup.js';
import { SERVER_DEFAULTS, CLIENT_DEFAULTS } from '../proxy/harness.js';
import { TestPki } from '../fixtures/tls/pki.js';
import { openBrowser } from '../admin/browser.js';

const skip = !TestPki.available() && 'openssl not installed';

test('the dashboard shows each certificate the router presents with its days left, amber within 14 days; the router warns at start', { skip }, async () => {
  const pki = new TestPki();
  const soon = pki.issue('soon', { names: ['router.local'], days: 5 });
  const fine = pki.issue('fine', { names: ['router-client'], days: 30, client: true });
  const lines: string[] = [];
  const log = Logger.create({ level: 'warn', sink: { write: (line: string) => void lines.push(line) } });
  const metrics = new Metrics({ processMetrics: false });
  const interpreter = new NameInterpreter({ global: globalNamer() });
  const router = new Router(
    routerConfig({
      servers: [{ ...SERVER_DEFAULTS, tls: { certPath: soon.cert, keyPath: soon.key, requireClientAuth: false } }],
      client: { ...CLIENT_DEFAULTS, tls: { trustCerts: [pki.ca.cert], disableValidation: false, clientAuth: { certPath: fine.cert, keyPath: fine.key } } },
    }),
    { interpreter, dtab: new Var(parseDtab('')), metrics, log },
  );
  await router.start();
  const admin = await startAdmin(
    { ip: '127.0.0.1', port: 0, controlEnabled: false, maxConnections: 1000, maxConnectionsPerClient: 16 },
    { routers: [adminRouter(router, interpreter)], namers: [], metrics, log, effectiveConfig: {}, readiness: () => ({ ready: true, reasons: [] }), version: 'test' },
  );
  const browser = await openBrowser();
  try {
    const data = (await (await fetch(`http://127.0.0.1:${admin.port}/admin/dashboard.json`)).json()) as { routers: { certificates: { use: string; daysLeft: number }[] }[] };
    const certs = data.routers[0]!.certificates;
    assert.deepEqual(certs.map((c) => c.use), [`server 127.0.0.1:${router.boundPorts[0]!.port}`, 'client.tls.clientAuth.certPath']);
    assert.ok(certs[0]!.daysLeft >= 4 && certs[0]!.daysLeft <= 5);

    await browser.page.goto(`http://127.0.0.1:${admin.port}/`);
    const line = browser.page.locator('.certs');
    await line.waitFor({ timeout: 10_000 });
    assert.match((await line.textContent()) ?? '', /TLS certificates: server 127\.0\.0\.1:\d+ [45] days left · client\.tls\.clientAuth\.certPath (29|30) days left/);
    assert.equal(await browser.page.locator('.certs .cert.warn').count(), 1);
    assert.deepEqual(browser.pageErrors, []);
    assert.ok(lines.some((l) => /TLS certificate expires in [45] days/.test(l) && l.includes('soon.crt')), lines.join('\n'));
  } finally {
    await browser.close();
    await admin.close();
    await router.close();
    pki.remove();
  }
});
