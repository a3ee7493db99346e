import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { startAdmin, adminRouter, type AdminServer } from '../../src/admin/server.js';
import type { AdminConfig } from '../../src/config/types.js';
import { NameInterpreter } from '../../src/dtab/index.js';
import { Path } from '../../src/dtab/path.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { Logger } from '../../src/util/log.js';
import { ok } from '../../src/util/activity.js';
import { Neg } from '../../src/dtab/nametree.js';
import { globalNamer } from '../../src/namers/global.js';
import { FakeNamer } from '../support/fake-namer.js';
import { PENDING } from '../../src/util/activity.js';
import { eventually } from '../support/eventually.js';

// /delegator.json over real HTTP on 127.0.0.1, through the real dtab engine: what one client may
// make it build (the tree's bounds) and hold (delegations in flight).

interface Harness {
  admin: AdminServer;
  metrics: Metrics;
  /** A namer under /n that stays pending until the test answers (a delegation through it waits). */
  namer: FakeNamer;
}

async function withAdmin(limits: Partial<AdminConfig>, body: (h: Harness) => Promise<void>): Promise<void> {
  const metrics = new Metrics({ processMetrics: false });
  const namer = new FakeNamer(Path.of('n'), PENDING);
  const interpreter = new NameInterpreter({ global: globalNamer(), namers: [{ prefix: Path.of('n'), kind: 'test', namer }] });
  const router = adminRouter({ label: 'h2', snapshot: () => { throw new Error('not asked'); } }, interpreter);
  const admin = await startAdmin(
    { ip: '127.0.0.1', port: 0, controlEnabled: false, maxConnections: 1000, maxConnectionsPerClient: 16, ...limits },
    { routers: [router], namers: [], metrics, log: Logger.create({ level: 'error', sink: { write() {} } }), effectiveConfig: null, readiness: () => ({ ready: true, reasons: [] }), version: 'test' },
  );
  try {
    await body({ admin, metrics, namer });
  } finally {
    await admin.close();
  }
}

/** POST a delegation from `localAddress` (127.0.0.0/8 is all loopback on Linux: other client addresses). */
function delegate(admin: AdminServer, path: string, dtab: string, localAddress = '127.0.0.1'): Promise<{ status: number; text: string; headers: Record<string, unknown> }> {
  const body = JSON.stringify({ path, dtab });
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: admin.port, localAddress, method: 'POST', path: '/delegator.json', agent: false, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c)).on('end', () => resolve({ status: res.statusCode!, text, headers: res.headers }));
    });
    req.on('error', reject).end(body);
  });
}

async function reached(metrics: Metrics, limit: string): Promise<number> {
  return (await metrics.limitsReached.get()).values.find((v) => v.labels['limit'] === limit)?.value ?? 0;
}

const alternatives = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i)).join('|');

test('a delegation tree past its bounds is a 400 naming the bound and its key, counted; the answer stays small', async () => {
  await withAdmin({}, async ({ admin, metrics }) => {
    // The auditor's 14 KB dtab: its answer was 18.7 MB, in ~580 ms of event loop.
    const dtab = Array.from({ length: 1500 }, (_, i) => `/c${i}=>/d;`).join('') + `/a=>${alternatives(1500, (i) => `/b${i}`)};`;
    const r = await delegate(admin, '/a', dtab);
    assert.equal(r.status, 400);
    assert.equal(r.text.trim(), "Delegating /a makes a tree of more than 262144 bytes: the dtab's alternatives and unions multiply (admin.maxDelegationBytes)");
    assert.equal(await reached(metrics, 'admin.maxDelegationBytes'), 1);
    // A dtab a dashboard user has is explained as before.
    const small = await delegate(admin, '/a', '/a => /b | /c; /b => /$/inet/127.0.0.1/1');
    assert.equal(small.status, 200);
    assert.equal(JSON.parse(small.text).type, 'alt');
  });
  await withAdmin({ maxDelegationNodes: 10 }, async ({ admin, metrics }) => {
    const r = await delegate(admin, '/a', `/a => ${alternatives(20, () => '~')}`);
    assert.equal(r.status, 400);
    assert.equal(r.text.trim(), "Delegating /a makes a tree of more than 10 nodes: the dtab's alternatives and unions multiply (admin.maxDelegationNodes)");
    assert.equal(await reached(metrics, 'admin.maxDelegationNodes'), 1);
  });
});

test("a delegation refused for its tree's size abandons its other branches' waits for namers: the 400 leaves nothing observed", async () => {
  await withAdmin({ maxDelegationNodes: 10 }, async ({ admin, metrics, namer }) => {
    const r = await delegate(admin, '/a', `/a => /n/slow | /b; /b => ${alternatives(20, () => '~')}`);
    assert.equal(r.status, 400);
    assert.match(r.text, /\(admin\.maxDelegationNodes\)$/m);
    assert.deepEqual(namer.lookups, ['/slow'], 'a sibling branch waited on its namer');
    assert.equal(namer.active, 0, "the namer's answer is no longer observed once the 400 is sent");
    assert.equal(await reached(metrics, 'admin.maxDelegationNodes'), 1);
  });
});

test('delegations in flight are bounded per client address: past admin.maxDelegationsPerClient, another while one waits for a namer is a 429 naming the bound', async () => {
  await withAdmin({ maxDelegationsPerClient: 1 }, async ({ admin, metrics, namer }) => {
    const first = delegate(admin, '/n/slow', '');
    await eventually('the first delegation waits for its namer', () => namer.lookups.includes('/slow'));
    const second = await delegate(admin, '/n/other', '');
    assert.equal(second.status, 429);
    assert.equal(second.text.trim(), 'Too many delegations: 1 delegation is in flight from 127.0.0.1 (admin.maxDelegationsPerClient); ask again once it is answered');
    assert.equal(second.headers['retry-after'], '1');
    assert.equal(await reached(metrics, 'admin.maxDelegationsPerClient'), 1);
    // Another client address is served meanwhile.
    namer.set('fast', ok(Neg));
    assert.equal((await delegate(admin, '/n/fast', '', '127.0.0.2')).status, 200);
    namer.set('slow', ok(Neg));
    assert.equal((await first).status, 200);
    // Its slot is free once it is answered.
    namer.set('other', ok(Neg));
    assert.equal((await delegate(admin, '/n/other', '')).status, 200);
  });
});

test('delegations in flight are bounded in all (admin.maxDelegations): a client address with none in flight is refused past it', async () => {
  await withAdmin({ maxDelegations: 1 }, async ({ admin, metrics, namer }) => {
    const first = delegate(admin, '/n/slow', '');
    await eventually('the first delegation waits for its namer', () => namer.lookups.includes('/slow'));
    const r = await delegate(admin, '/n/other', '', '127.0.0.2');
    assert.equal(r.status, 429);
    assert.equal(r.text.trim(), 'Too many delegations: 1 delegation is in flight (admin.maxDelegations); ask again once it is answered');
    assert.equal(await reached(metrics, 'admin.maxDelegations'), 1);
    namer.set('slow', ok(Neg));
    assert.equal((await first).status, 200);
  });
});
