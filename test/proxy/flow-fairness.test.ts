import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import * as http2 from 'node:http2';
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

/**
 * Windows bound what one client connection may send ahead (~1 MiB), not what a node's pods may
 * together: many connections sending to endpoints that read nothing would hold their windows each.
 * servers[].maxBufferedBytes bounds the sum; only connections holding more than 16 KiB stop
 * being read, so a pod whose bytes flow still gets its calls through.
 */
test('request bytes that endpoints do not take are bounded over all client connections; a client whose bytes flow is still read', { timeout: 30_000 }, async () => {
  const HOGS = 8;
  const LIMIT = 1 << 20;
  // Past the limit, each hog reads at most its share (16 KiB) and one socket read (64 KiB) more.
  const BOUND = LIMIT + HOGS * 80 * 1024;
  const backend = await startRawBackend((stream, headers) => {
    if (headers[':path'] === '/t.Svc/Sink') return stream.pause(); // never read, never answered
    stream.resume();
    stream.on('end', () => answerOk(stream));
  });
  // The endpoint's connection window must not be what stops the sinks' bytes (it is shared by every call).
  backend.server.on('session', (s) => s.setLocalWindowSize(64 << 20));
  const limits: string[] = [];
  const proxy = await new ProxyHarness(addr(backend.port), {}, { maxBufferedBytes: LIMIT }, { onLimit: (l) => limits.push(l) }).start();
  const hogs: http2.ClientHttp2Session[] = [];
  const client = testClient(proxy.target);
  try {
    for (let i = 0; i < HOGS; i++) {
      const s = http2.connect(`http://${proxy.target}`);
      s.on('error', () => {});
      hogs.push(s);
      const req = s.request({ ':method': 'POST', ':path': '/t.Svc/Sink', 'content-type': 'application/grpc', te: 'trailers' });
      req.on('error', () => {});
      req.end(Buffer.alloc(1 << 20, 1)); // its whole window
    }
    // One hog may have sent all of its bytes while the router held less than the limit; every other
    // is stopped once it holds more than its share.
    await eventually('the hogs were stopped', () => limits.length >= HOGS - 1, 20_000);
    assert.ok(limits.every((l) => l === 'servers[].maxBufferedBytes'), limits.join());
    assert.ok(proxy.server.readBudget.held > LIMIT && proxy.server.readBudget.held <= BOUND, `the router holds ${proxy.server.readBudget.held} request bytes`);

    // Another pod's call with a 2 MiB request goes through: its bytes flow, so it is read.
    const other = await unary(client, { message: 'x'.repeat(2 << 20) }, { deadlineMs: 10_000 });
    assert.equal(other.error, null, `${grpc.status[other.error?.code ?? 0]}: ${other.error?.details}`);
    assert.ok(proxy.server.readBudget.held <= BOUND, `the router holds ${proxy.server.readBudget.held} request bytes`);
  } finally {
    client.close();
    for (const s of hogs) s.destroy();
  }
  // A socket not read sees no FIN: the hogs' connections go with the proxy, and what they held with them.
  await proxy.close();
  await backend.close();
  assert.equal(proxy.server.readBudget.held, 0);
});
