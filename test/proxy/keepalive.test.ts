import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerHttp2Session } from 'node:http2';
import { SessionPool, type UpstreamEvents } from '../../src/proxy/upstream.js';
import type { H2Stream } from '../../src/h2/stream.js';
import { CLIENT_DEFAULTS } from './harness.js';
import { startRawBackend, answerOk, type RawBackend } from '../fixtures/grpc/raw-backend.js';
import { FakeClock } from '../support/fake-clock.js';
import { eventually } from '../support/eventually.js';

/** One unary gRPC call over the pool's real HTTP/2 connection; resolves with the grpc-status it got. */
function unary(pool: SessionPool): Promise<string | undefined> {
  return new Promise((resolve) => {
    let status: string | undefined;
    const owner: UpstreamEvents = {
      onUpHeaders: (_s, list) => (status = list.toArray().find(([n]) => n === 'grpc-status')?.[1] ?? status),
      onUpData: (s, data) => s.consumed(data.length),
      onUpReset: () => {},
      onUpDrain: () => {},
      onUpClose: () => resolve(status),
    };
    const fields = [[':method', 'POST'], [':scheme', 'http'], [':path', '/t.Svc/Call'], [':authority', 'backend'], ['content-type', 'application/grpc'], ['te', 'trailers']] as const;
    const stream: H2Stream = pool.request(fields, false, owner);
    stream.write(Buffer.alloc(5), true);
  });
}

/** A PING from the endpoint, answered: our side has read everything it was sent before, and sent the endpoint all it wrote before. */
function pingFrom(backend: { session?: ServerHttp2Session }): Promise<void> {
  return new Promise((resolve, reject) => backend.session!.ping((err) => (err ? reject(err) : resolve())));
}

async function pingCountingBackend(): Promise<RawBackend & { pings: number; session?: ServerHttp2Session }> {
  const b = Object.assign(await startRawBackend((s) => answerOk(s)), { pings: 0, session: undefined as ServerHttp2Session | undefined });
  b.server.on('session', (s) => {
    b.session = s;
    s.on('ping', () => b.pings++);
  });
  return b;
}

test('keepalive PINGs towards endpoints: off by default; after keepAliveIntervalMs (at least 10 s) with nothing read, on the injected clock', async () => {
  const clock = new FakeClock();
  const quiet = await pingCountingBackend();
  const pinged = await pingCountingBackend();
  const options = { connectTimeoutMs: CLIENT_DEFAULTS.connectTimeoutMs, keepAliveTimeoutMs: CLIENT_DEFAULTS.keepAliveTimeoutMs, clock };
  const off = new SessionPool('127.0.0.1', quiet.port, { ...options, keepAliveIntervalMs: CLIENT_DEFAULTS.keepAliveIntervalMs });
  // 5 s asked for: the floor of 10 s applies (a PING storm is what servers punish with GOAWAY).
  const on = new SessionPool('127.0.0.1', pinged.port, { ...options, keepAliveIntervalMs: 5_000 });
  try {
    assert.equal(await unary(off), '0');
    assert.equal(await unary(on), '0');

    // At 10 s of silence a PING, unless something was read since: the endpoint's own PING round
    // trip (just before each check) is a read, and shows that anything we sent before has arrived.
    clock.advance(9_999);
    await pingFrom(pinged);
    clock.advance(1);
    await pingFrom(pinged);
    assert.equal(pinged.pings, 0, 'a read just before the check puts the PING off');
    clock.advance(20_001);
    // Bounded well below the real 10 s, so a PING on a real timer would not do.
    await eventually('the keepalive PING at the endpoint', () => pinged.pings > 0, 2000);
    await pingFrom(pinged);
    assert.equal(pinged.pings, 1, 'one PING after 10 s of silence');
    await pingFrom(quiet);
    assert.equal(quiet.pings, 0, 'keepalive is off by default');

    // The PING was answered (the engine's ACK), so the connection stays up and serving.
    clock.advance(CLIENT_DEFAULTS.keepAliveTimeoutMs + 1);
    assert.equal(on.state, 'connected');
    assert.equal(await unary(on), '0');
  } finally {
    off.destroy();
    on.destroy();
    await quiet.close();
    await pinged.close();
  }
});
