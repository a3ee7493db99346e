import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { ProxyHarness, addr } from './harness.js';
import { startRawBackend, answerOk } from '../fixtures/grpc/raw-backend.js';
import { testClient, unary } from '../fixtures/grpc/test-service.js';
import { RawClient } from '../h2/connection-helpers.js';
import { SettingId } from '../../src/h2/frames.js';
import { eventually } from '../support/eventually.js';
import { RECEIVE_BUDGET } from '../../src/proxy/upstream.js';

/**
 * Every pod on a node shares its router, and the router shares one connection per endpoint among
 * them: one client's answers waiting for it must not use up that connection's window (RFC 9113
 * §6.9), or every other client's calls to the endpoint stall behind them.
 */
test('answers one client does not read hold their own stream windows, not the endpoint connection\'s: other clients\' calls go on', { timeout: 30_000 }, async () => {
  const STALLED = 12; // 12 streams x 1 MiB of window: more than the 8 MiB connection window
  let sent = 0;
  const backend = await startRawBackend((stream, headers) => {
    if (headers[':path'] !== '/t.Svc/Big') return answerOk(stream);
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
    const chunk = Buffer.alloc(64 * 1024, 1);
    let left = 32; // 2 MiB each: more than its stream window
    const feed = (): void => {
      while (left > 0 && !stream.closed) {
        left--;
        if (!stream.write(chunk, () => (sent += chunk.length))) return;
      }
    };
    stream.on('drain', feed);
    feed();
  });
  const proxy = await new ProxyHarness(addr(backend.port)).start();
  // A client that asks for big answers and keeps its window shut.
  const stalled = await RawClient.connect(proxy.port, [{ id: SettingId.INITIAL_WINDOW_SIZE, value: 0 }]);
  const client = testClient(proxy.target);
  try {
    const request: [string, string][] = [[':method', 'POST'], [':scheme', 'http'], [':path', '/t.Svc/Big'], [':authority', 'x'], ['content-type', 'application/grpc'], ['te', 'trailers']];
    for (let i = 0; i < STALLED; i++) {
      stalled.request(1 + 2 * i, request, false);
      stalled.writer.data(1 + 2 * i, Buffer.from([0, 0, 0, 0, 0]), true);
    }
    stalled.send();
    // The endpoint has sent what the router's windows let it: the whole connection window, less
    // what its write callbacks have not reported yet.
    await eventually('the endpoint filled the router\'s connection window', () => sent >= (8 << 20) - 256 * 1024, 20_000);
    // Another client's call to the same endpoint, over the same endpoint connection.
    const other = await unary(client, { message: 'hello' }, { deadlineMs: 5000 });
    assert.equal(other.error, null, `${grpc.status[other.error?.code ?? 0]}: ${other.error?.details}`);
    // Each stalled stream holds no more than its own window.
    await eventually('every stalled stream got its stream window', () => sent >= STALLED * ((1 << 20) - 256 * 1024), 20_000);
    assert.ok(sent <= STALLED * ((1 << 20) + 64 * 1024), `${sent} bytes sent towards streams nobody reads`);
    assert.ok(RECEIVE_BUDGET.held > 0 && RECEIVE_BUDGET.held <= RECEIVE_BUDGET.limit);
  } finally {
    client.close();
    stalled.close();
    await proxy.close();
    await backend.close();
  }
  // The stalled streams were reset with their client: what they held went back to the budget.
  await eventually('the budget is whole again', () => RECEIVE_BUDGET.held === 0, 10_000);
});
