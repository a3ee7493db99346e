import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import type * as net from 'node:net';
import { QUEUED_REQUESTS, SessionPool, type UpstreamEvents } from '../../src/proxy/upstream.js';
import { ErrorCode } from '../../src/h2/constants.js';
import type { H2Stream } from '../../src/h2/stream.js';
import { CLIENT_DEFAULTS } from './harness.js';
import { eventually } from '../support/eventually.js';
import { RawServer } from '../h2/connection-helpers.js';
import { SettingId } from '../../src/h2/frames.js';

/**
 * What endpoint connections have queued counts in the process's budget (endpointWindows.
 * queuedRequestBytes) until it goes. Bytes dropped without a frame to flush (a stream the endpoint
 * resets, one its owner resets while it waits for a slot) were counted until that connection next
 * flushed, which a quiet one never does: the stale count kept the budget spent, and every endpoint
 * connection of the process took 16 KiB at a time, for nothing.
 */
const FIELDS: [string, string][] = [
  [':method', 'POST'], [':scheme', 'http'], [':path', '/t.Svc/Hold'], [':authority', 'e'], ['content-type', 'application/grpc'], ['te', 'trailers'],
];

async function endpointHolding(settings: http2.Settings, onStream: (s: http2.ServerHttp2Stream) => void): Promise<{ server: http2.Http2Server; pool: SessionPool }> {
  const server = http2.createServer({ settings });
  server.on('stream', (s) => {
    s.on('error', () => {});
    onStream(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const pool = new SessionPool('127.0.0.1', (server.address() as net.AddressInfo).port, {
    connectTimeoutMs: CLIENT_DEFAULTS.connectTimeoutMs,
    keepAliveIntervalMs: 0,
    keepAliveTimeoutMs: CLIENT_DEFAULTS.keepAliveTimeoutMs,
    maxConnections: 1,
  });
  return { server, pool };
}

function owner(onReset: () => void = () => {}): UpstreamEvents {
  return { onUpHeaders: () => {}, onUpData: (s, d) => s.consumed(d.length), onUpReset: onReset, onUpDrain: () => {}, onUpClose: () => {} };
}

test('DATA queued on streams the endpoint resets leaves the queued-request budget, though nothing else comes', async () => {
  // A raw endpoint: it grants no stream window, so every DATA byte stays queued, and it sends
  // nothing but its SETTINGS, their ACK and the resets (a WINDOW_UPDATE would make a flush).
  const { server, port, accepted } = await RawServer.listen();
  const pool = new SessionPool('127.0.0.1', port, {
    connectTimeoutMs: CLIENT_DEFAULTS.connectTimeoutMs,
    keepAliveIntervalMs: 0,
    keepAliveTimeoutMs: CLIENT_DEFAULTS.keepAliveTimeoutMs,
  });
  let resets = 0;
  try {
    for (let i = 0; i < 10; i++) pool.request(FIELDS, false, owner(() => resets++)).write(Buffer.alloc(1 << 20, 1), false);
    const endpoint = await accepted;
    endpoint.writer.settings([{ id: SettingId.INITIAL_WINDOW_SIZE, value: 0 }]);
    endpoint.writer.settingsAck();
    endpoint.send();
    await endpoint.wait((e) => e.kind === 'settings-ack');
    await eventually('the streams\' DATA to be counted', () => QUEUED_REQUESTS.held >= 9 << 20);
    for (const e of endpoint.events) if (e.kind === 'headers') endpoint.writer.rstStream(e.streamId, ErrorCode.CANCEL);
    endpoint.send();
    await eventually('the resets', () => resets === 10);
    await eventually('the budget to let go of what they held', () => assert.equal(QUEUED_REQUESTS.held, 0) ?? true, 5_000);
  } finally {
    pool.destroy();
    server.close();
  }
});

test('DATA queued on streams reset while they wait for a slot leaves the queued-request budget', async () => {
  const held: http2.ServerHttp2Stream[] = [];
  const { server, pool } = await endpointHolding({ maxConcurrentStreams: 1 }, (s) => held.push(s));
  try {
    const first = pool.request(FIELDS, false, owner());
    first.write(Buffer.alloc(5), false);
    await eventually('the endpoint to hold the first stream', () => held.length === 1);
    const waiting: H2Stream[] = [];
    for (let i = 0; i < 20; i++) {
      const s = pool.request(FIELDS, false, owner());
      s.write(Buffer.alloc(60_000, 1), false);
      waiting.push(s);
    }
    await eventually('the waiting streams\' DATA to be counted', () => QUEUED_REQUESTS.held >= 20 * 60_000);
    assert.equal(pool.waiting.streams, 20);
    for (const s of waiting) s.reset(ErrorCode.CANCEL);
    assert.equal(pool.waiting.streams, 0);
    await eventually('the budget to let go of what they held', () => assert.equal(QUEUED_REQUESTS.held, 0) ?? true, 5_000);
  } finally {
    pool.destroy();
    for (const s of held) s.close();
    server.close();
  }
});
