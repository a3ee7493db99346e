import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { echoClient } from '../../examples/echo/client.js';
import { startEchoServer, type EchoServer } from '../../examples/echo/server.js';
import { freePort, get, startCli, type Started } from './process.js';
import { eventually } from '../support/eventually.js';

const SERVICE = 'com.example.grpc.EchoService';

/** Who answered `n` calls through the router, counted. */
async function answers(target: string, n: number): Promise<Map<string, number>> {
  const client = echoClient(target);
  try {
    const counts = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const res = await client.echo(`call ${i}`, { deadlineMs: 5000 });
      assert.equal(res.message, `call ${i}`);
      counts.set(res.from, (counts.get(res.from) ?? 0) + 1);
    }
    return counts;
  } finally {
    client.close();
  }
}

test('the built CLI routes real grpc-js calls by config, follows the live dtab file, and drains on SIGTERM', async (t) => {
  const backends: EchoServer[] = [];
  for (const name of ['a1', 'a2', 'b1']) backends.push(await startEchoServer({ name }));
  const dir = mkdtempSync(join(tmpdir(), 'kgr-e2e-'));
  let proc: Started | undefined;
  t.after(async () => {
    await proc?.kill();
    await Promise.all(backends.map((b) => b.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  const [a1, a2, b1] = backends as [EchoServer, EchoServer, EchoServer];
  mkdirSync(join(dir, 'endpoints'));
  writeFileSync(join(dir, 'endpoints', 'echo-a'), `127.0.0.1 ${a1.port}\n127.0.0.1 ${a2.port}\n`);
  writeFileSync(join(dir, 'endpoints', 'echo-b'), `127.0.0.1 ${b1.port}\n`);
  writeFileSync(join(dir, 'dtab'), `/svc/${SERVICE} => /fs/echo-a;\n`);
  const routerPort = await freePort();
  const adminPort = await freePort();
  writeFileSync(
    join(dir, 'config.yaml'),
    `admin: {ip: 127.0.0.1, port: ${adminPort}}
namers:
- kind: io.l5d.fs
  rootDir: endpoints
routers:
- protocol: h2
  label: e2e
  identifier: {kind: io.l5d.header.path, segments: 1}
  dtab: /fs => /#/io.l5d.fs;
  interpreter: {kind: io.l5d.fs, dtabFile: dtab}
  servers:
  - {ip: 127.0.0.1, port: ${routerPort}}
shutdownDelay: 2s
shutdownGrace: 2s
telemetry:
- kind: io.l5d.prometheus
`,
  );
  proc = startCli(['--config', join(dir, 'config.yaml'), '--log-format', 'json']);
  await eventually('/ready answering 200', async () => (await get(`http://127.0.0.1:${adminPort}/ready`)).status === 200);
  // Linkerd keys we accept and ignore are said so, once, in a log line.
  await proc.waitFor(/"msg":"config key ignored","key":"telemetry","reason":"metrics are always served/);

  // Round robin over the two endpoints of echo-a, stream by stream on one connection.
  const first = await answers(`127.0.0.1:${routerPort}`, 10);
  assert.deepEqual(Object.fromEntries(first), { a1: 5, a2: 5 });

  // Operators change routing by replacing the dtab file (an editor's rename); no restart.
  writeFileSync(join(dir, 'dtab.tmp'), `/svc/${SERVICE} => /fs/echo-b;\n`);
  renameSync(join(dir, 'dtab.tmp'), join(dir, 'dtab'));
  await eventually('every call answered by b1', async () => { assert.deepEqual(Object.fromEntries(await answers(`127.0.0.1:${routerPort}`, 3)), { b1: 3 }); return true; });

  // A broken edit keeps routing and shows on the dashboard's JSON.
  writeFileSync(join(dir, 'dtab'), `/svc/${SERVICE} => /fs/echo-a &;\n`);
  await proc.waitFor(/dtab:1:\d+: expected /);
  assert.deepEqual(Object.fromEntries(await answers(`127.0.0.1:${routerPort}`, 2)), { b1: 2 });
  const metrics = (await get(`http://127.0.0.1:${adminPort}/metrics`)).body;
  assert.match(metrics, /kgr_dtab_reloads_total\{router="e2e",result="failure"\} 1/);

  // SIGTERM: not ready at once, still serving during shutdownDelay, then drained and exit 0.
  const client = echoClient(`127.0.0.1:${routerPort}`);
  try {
    proc.child.kill('SIGTERM');
    await eventually('/ready answering 503', async () => (await get(`http://127.0.0.1:${adminPort}/ready`)).status === 503, 2000);
    const during = await client.echo('still serving', { deadlineMs: 2000 });
    assert.equal(during.from, 'b1');
  } finally {
    client.close();
  }
  const exit = await proc.exited;
  assert.deepEqual(exit, { code: 0, signal: null });
  assert.match(proc.stderr, /"msg":"shutting down/);
});

test('a second signal exits at once, without waiting for the shutdown delay', async (t) => {
  const backend = await startEchoServer({ name: 'only' });
  const routerPort = await freePort();
  const adminPort = await freePort();
  const proc = startCli(['-p', `127.0.0.1:${routerPort}-127.0.0.1:${backend.port}`, '-d', '1m', '--admin', `127.0.0.1:${adminPort}`, '--log-format', 'text', '--log-level', 'warn']);
  t.after(async () => {
    await proc.kill();
    await backend.close();
  });
  await eventually('/ready answering 200', async () => (await get(`http://127.0.0.1:${adminPort}/ready`)).status === 200);
  // gproxy mode: every call, whatever its service, goes to the target.
  assert.deepEqual(Object.fromEntries(await answers(`127.0.0.1:${routerPort}`, 2)), { only: 2 });
  proc.child.kill('SIGTERM');
  await eventually('/ready answering 503', async () => (await get(`http://127.0.0.1:${adminPort}/ready`)).status === 503, 2000);
  proc.child.kill('SIGTERM');
  const exit = await proc.exited;
  assert.notEqual(exit.code, 0);
  // --log-format text --log-level warn: readable lines, and nothing below warn.
  assert.match(proc.stderr, /^\d{4}-\d\d-\d\dT[\d:.]+Z WARN  second signal: exiting now signal=SIGTERM$/m);
  assert.doesNotMatch(proc.stderr, / INFO /);
});

test('a port already in use fails the start with a clear message and exit 1', async (t) => {
  const backend = await startEchoServer();
  t.after(() => backend.close());
  const adminPort = await freePort();
  const run = startCli(['-p', `127.0.0.1:${backend.port}-127.0.0.1:1`, '--admin', `127.0.0.1:${adminPort}`]);
  t.after(() => run.kill());
  const exit = await run.exited;
  assert.equal(exit.code, 1);
  assert.match(run.stderr, new RegExp(`${backend.port}`));
});
