import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProxyHarness, addr } from './harness.js';
import { startRawBackend, answerOk } from '../fixtures/grpc/raw-backend.js';
import { testClient, unary } from '../fixtures/grpc/test-service.js';

test('keepalive PINGs towards endpoints: off by default, every keepAliveIntervalMs (at least 10 s) when set', async () => {
  const quiet = await startRawBackend((s) => answerOk(s));
  const pinged = await startRawBackend((s) => answerOk(s));
  const pings = new Map<number, number>([[quiet.port, 0], [pinged.port, 0]]);
  for (const b of [quiet, pinged]) b.server.on('session', (s) => s.on('ping', () => pings.set(b.port, pings.get(b.port)! + 1)));
  const off = await new ProxyHarness(addr(quiet.port)).start();
  const on = await new ProxyHarness(addr(pinged.port), { keepAliveIntervalMs: 10_000 }).start();
  const c1 = testClient(off.target);
  const c2 = testClient(on.target);
  try {
    assert.equal((await unary(c1, { message: 'x' })).error, null);
    assert.equal((await unary(c2, { message: 'x' })).error, null);
    await new Promise((r) => setTimeout(r, 10_600));
    assert.equal(pings.get(quiet.port), 0);
    assert.equal(pings.get(pinged.port), 1);
    // The pinged session is still up and serving.
    assert.equal((await unary(c2, { message: 'y' })).error, null);
  } finally {
    c1.close();
    c2.close();
    await off.close();
    await on.close();
    await quiet.close();
    await pinged.close();
  }
});
