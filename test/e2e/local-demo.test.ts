import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { echoClient } from '../../examples/echo/client.js';
import { freePort, get, startCli } from './process.js';
import { eventually } from '../support/eventually.js';

test('the embedded default (npm start) serves echo calls over three backends and stops cleanly on Ctrl-C', async (t) => {
  const routerPort = await freePort();
  const adminPort = await freePort();
  const proc = startCli([], { KGR_LOCAL_ROUTER_PORT: String(routerPort), KGR_LOCAL_ADMIN_PORT: String(adminPort) });
  t.after(() => proc.kill());

  // It says where to look and how to call it.
  await proc.waitFor(/Press Ctrl-C to stop/);
  assert.ok(proc.stdout.includes(`http://127.0.0.1:${adminPort}/`), proc.stdout);
  assert.ok(proc.stdout.includes(`node dist/examples/echo-call.js 127.0.0.1:${routerPort} hello`));
  const dtabFile = /live dtab\s+(\S+)/.exec(proc.stdout)![1]!;
  assert.ok(existsSync(dtabFile));

  assert.equal((await get(`http://127.0.0.1:${adminPort}/ready`)).status, 200);
  const client = echoClient(`127.0.0.1:${routerPort}`);
  try {
    const seen = new Set<string>();
    for (let i = 0; i < 12; i++) seen.add((await client.echo(`hi ${i}`, { deadlineMs: 5000 })).from);
    assert.deepEqual([...seen].sort(), ['backend-1', 'backend-2', 'backend-3']);
  } finally {
    client.close();
  }
  // The built-in client's traffic shows in the metrics the dashboard draws.
  await eventually("the built-in client's requests in /metrics", async () => {
    const metrics = (await get(`http://127.0.0.1:${adminPort}/metrics`)).body;
    const total = [...metrics.matchAll(/^kgr_requests_total\{[^}]*router="local"[^}]*\} (\d+)/gm)].reduce((s, m) => s + Number(m[1]), 0);
    assert.ok(total > 12, `requests counted: ${total}`);
    return true;
  });

  proc.child.kill('SIGINT');
  assert.deepEqual(await proc.exited, { code: 0, signal: null });
  assert.equal(existsSync(dtabFile), false, 'the temp directory is removed');
});
