import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { startAdmin, type AdminDeps, type AdminRouter, type AdminServer } from '../../src/admin/server.js';
import type { AdminTimeouts } from '../../src/admin/deps.js';
import type { AdminConfig, AdminProbesConfig } from '../../src/config/types.js';
import { NameInterpreter, delegate } from '../../src/dtab/index.js';
import { globalNamer } from '../../src/namers/global.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { Logger } from '../../src/util/log.js';
import { eventually } from '../support/eventually.js';

/**
 * The probes listener (`admin.probes`) over real HTTP: the admin server on 127.0.0.1, the probes
 * listener on another loopback address (as the DaemonSet puts them on 127.0.0.1 and the pod IP).
 * Pods reach only the probes listener: it answers the kubelet's probes and nothing else.
 */

const PROBES_IP = '127.0.0.2';
const BOUNDED = { timeout: 15_000 };

/** A router the admin sees: an empty snapshot, delegations through the global namer (/$/inet). */
const ROUTER: AdminRouter = {
  label: 'h2',
  snapshot: () => ({ label: 'h2', servers: [], dtab: { base: '', effective: '' }, services: [], clients: [] }),
  delegate: (path, dtab, options) => delegate(new NameInterpreter({ global: globalNamer() }), dtab, path, options),
};

interface Harness {
  admin: AdminServer;
  /** The admin server's and the probes listener's base URLs. */
  adminBase: string;
  probesBase: string;
  metrics: Metrics;
  readiness: { ready: boolean; reasons: string[] };
}

function deps(metrics: Metrics, readiness: () => { ready: boolean; reasons: string[] }, timeouts?: AdminTimeouts): AdminDeps {
  return {
    routers: [ROUTER],
    namers: [],
    metrics,
    log: Logger.silent(),
    effectiveConfig: { admin: { port: 0 } },
    readiness,
    version: '9.9.9-test',
    ...(timeouts ? { timeouts } : {}),
  };
}

function adminConfig(probes: Partial<AdminProbesConfig>, bounds: Partial<AdminConfig> = {}): AdminConfig {
  return { ip: '127.0.0.1', port: 0, controlEnabled: false, maxConnections: 1000, maxConnectionsPerClient: 16, probes: { ip: PROBES_IP, port: 0, metrics: false, ...probes }, ...bounds };
}

async function withProbes(config: AdminConfig, body: (h: Harness) => Promise<void>, timeouts?: AdminTimeouts): Promise<void> {
  const metrics = new Metrics({ processMetrics: false });
  const readiness = { ready: true, reasons: [] as string[] };
  const admin = await startAdmin(config, deps(metrics, () => readiness, timeouts));
  assert.ok(admin.probesPort, 'the probes listener is up');
  try {
    await body({ admin, adminBase: `http://127.0.0.1:${admin.port}`, probesBase: `http://${PROBES_IP}:${admin.probesPort}`, metrics, readiness });
  } finally {
    await admin.close();
  }
}

async function get(url: string, init?: RequestInit): Promise<{ status: number; text: string; type: string }> {
  const res = await fetch(url, init);
  return { status: res.status, text: await res.text(), type: res.headers.get('content-type') ?? '' };
}

const DELEGATION = `/delegator.json?namespace=h2&path=${encodeURIComponent('/svc/Echo')}&dtab=${encodeURIComponent('/svc => /$/inet/127.0.0.1/9000')}`;

test('the probes listener answers /ready (following readiness) and /live, GET and HEAD, with the admin server\'s own answers', async () => {
  await withProbes(adminConfig({}), async ({ adminBase, probesBase, readiness }) => {
    assert.deepEqual(await get(`${probesBase}/ready`).then((r) => [r.status, r.text]), [200, 'ready\n']);
    assert.deepEqual(await get(`${probesBase}/live`).then((r) => [r.status, r.text]), [200, 'live\n']);
    for (const path of ['/ready', '/live']) {
      const head = await fetch(probesBase + path, { method: 'HEAD' });
      assert.equal(head.status, 200, `HEAD ${path}`);
      assert.equal(await head.text(), '');
    }
    readiness.ready = false;
    readiness.reasons = ['shutting down'];
    for (const base of [probesBase, adminBase]) {
      const r = await get(`${base}/ready`);
      assert.deepEqual([r.status, r.text], [503, 'not ready:\n- shutting down\n'], `${base} follows readiness`);
    }
    assert.equal((await get(`${probesBase}/live`)).status, 200, 'still live while not ready');
    const post = await get(`${probesBase}/ready`, { method: 'POST' });
    assert.equal(post.status, 405, 'a probe path takes GET and HEAD only');
  });
});

test('the probes listener refuses the delegator, the dashboard, the config and the rest with a 404 saying what it serves; the admin server serves them', async () => {
  await withProbes(adminConfig({}), async ({ adminBase, probesBase }) => {
    const refused = ['/', '/dtab', DELEGATION, '/delegator', '/config.json', '/admin', '/admin/metrics.json', '/admin/metrics/prometheus', '/client_state.json', '/assets/dashboard.js', '/logging.json'];
    for (const path of refused) {
      const r = await get(probesBase + path);
      assert.equal(r.status, 404, `GET ${path} on the probes listener`);
      assert.match(r.text, /^No endpoint at \/\S* on the probes listener: it serves \/ready, \/live; the dashboard and the rest are on the admin server \(admin\.ip, admin\.port\)\n$/, path);
    }
    const post = await get(`${probesBase}/delegator.json`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ namespace: 'h2', path: '/svc/Echo', dtab: '' }) });
    assert.equal(post.status, 404, 'POST /delegator.json on the probes listener');
    const metrics = await get(`${probesBase}/metrics`);
    assert.equal(metrics.status, 404);
    assert.equal(metrics.text, '/metrics is not served on the probes listener: set admin.probes.metrics: true to serve it here (it serves /ready, /live)\n');

    // The admin server, on its own address, still serves everything.
    const delegation = await get(adminBase + DELEGATION);
    assert.equal(delegation.status, 200);
    assert.equal((JSON.parse(delegation.text) as { delegate: { path: string } }).delegate.path, '/$/inet/127.0.0.1/9000/Echo');
    const dashboard = await get(`${adminBase}/`);
    assert.equal(dashboard.status, 200);
    assert.match(dashboard.type, /^text\/html/);
    for (const path of ['/config.json', '/admin', '/metrics', '/admin/metrics.json', '/client_state.json', '/ready', '/live']) {
      assert.equal((await get(adminBase + path)).status, 200, `GET ${path} on the admin server`);
    }
  });
});

test('with admin.probes.metrics the probes listener serves /metrics too (Prometheus text), and still nothing else', async () => {
  await withProbes(adminConfig({ metrics: true }), async ({ probesBase, metrics }) => {
    const r = await get(`${probesBase}/metrics`);
    assert.equal(r.status, 200);
    assert.match(r.type, /^text\/plain; version=0\.0\.4/);
    assert.match(r.text, /^# HELP kgr_admin_connections /m);
    for (const path of ['/', DELEGATION, '/config.json']) {
      const refused = await get(probesBase + path);
      assert.equal(refused.status, 404, path);
      assert.match(refused.text, /it serves \/ready, \/live, \/metrics;/);
    }
  });
});

test('probes listener connections are bounded as the admin server\'s: per client address and in all, counted, each listener on its own', BOUNDED, async () => {
  await withProbes(adminConfig({}, { maxConnections: 3, maxConnectionsPerClient: 2 }), async ({ admin, metrics }) => {
    /** A kept-alive connection from `from` that has had one answer to /live: the server has surely taken it. */
    const answered = (host: string, port: number, from: string) =>
      new Promise<Socket>((resolve, reject) => {
        const socket = connect({ port, host, localAddress: from });
        socket.on('error', () => {});
        let text = '';
        socket.on('data', (c: Buffer) => {
          text += c.toString('latin1');
          if (/\r\n\r\nlive\n$/.test(text)) resolve(socket);
        });
        socket.once('close', () => reject(new Error(`closed unanswered (from ${from})`)));
        socket.write('GET /live HTTP/1.1\r\nhost: x\r\n\r\n');
      });
    const probes = (from: string) => answered(PROBES_IP, admin.probesPort!, from);
    const refused = async (limit: string) => (await metrics.limitsReached.get()).values.find((v) => v.labels['limit'] === limit)?.value ?? 0;
    const pod = [await probes('127.0.0.1'), await probes('127.0.0.1')];
    await assert.rejects(probes('127.0.0.1'), /closed unanswered/);
    assert.equal(await refused('admin.maxConnectionsPerClient'), 1);
    const kubelet = await probes('127.0.0.3');
    await assert.rejects(probes('127.0.0.4'), /closed unanswered/);
    assert.equal(await refused('admin.maxConnections'), 1);
    // The admin server's slots are its own: the same address that filled the probes listener's gets in.
    const portForward = await answered('127.0.0.1', admin.port, '127.0.0.1');
    for (const s of [...pod, kubelet, portForward]) s.destroy();
  });
});

test('probes listener connections are bounded by time as the admin server\'s: a silent one gets 408 and goes', BOUNDED, async () => {
  const timeouts: AdminTimeouts = { idle: 200, headers: 300, request: 600, linger: 500, check: 50 };
  await withProbes(
    adminConfig({}),
    async ({ admin, metrics }) => {
      const silent = connect(admin.probesPort!, PROBES_IP);
      silent.on('error', () => {});
      const answer = new Promise<string>((resolve) => {
        let text = '';
        silent.on('data', (c: Buffer) => (text += c.toString('latin1')));
        silent.once('close', () => resolve(text));
      });
      await eventually('the silent connection taken', async () => (await metrics.adminConnections.get()).values[0]?.value === 1);
      assert.match(await answer, /^HTTP\/1\.1 408 /);
      await eventually('the silent connection gone from the count', async () => (await metrics.adminConnections.get()).values[0]?.value === 0);
    },
    timeouts,
  );
});

/** A port free a moment ago on 127.0.0.1. */
async function freePort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function listening(server: TcpServer, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
}

test('a taken probes port is a startup error naming the address and admin.probes keys, and the admin server it started is closed again', async () => {
  const taken = createTcpServer();
  await listening(taken, 0, PROBES_IP);
  const takenPort = (taken.address() as { port: number }).port;
  const adminPort = await freePort();
  const metrics = new Metrics({ processMetrics: false });
  try {
    await assert.rejects(startAdmin(adminConfig({ port: takenPort }, { port: adminPort }), deps(metrics, () => ({ ready: true, reasons: [] }))), (err: Error) => {
      assert.match(err.message, new RegExp(`^admin server cannot listen on 127\\.0\\.0\\.2:${takenPort} \\(admin\\.probes\\.ip, admin\\.probes\\.port\\): .*EADDRINUSE`));
      return true;
    });
    // The admin server's port is free again: it did not stay bound behind the failed start.
    const again = createTcpServer();
    await listening(again, adminPort, '127.0.0.1');
    await new Promise<void>((resolve) => again.close(() => resolve()));
  } finally {
    await new Promise<void>((resolve) => taken.close(() => resolve()));
  }
});
