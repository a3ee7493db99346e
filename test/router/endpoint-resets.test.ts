import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { once } from 'node:events';
import { startRouter } from './setup.js';
import { RawClient } from '../h2/connection-helpers.js';
import { Recorder } from '../h2/frames-helpers.js';
import { ErrorCode, FrameReader } from '../../src/h2/frames.js';
import type { FieldInput } from '../../src/h2/hpack/index.js';

/**
 * Resets of many client addresses, each under `maxResetStreamsPerSecond`, add up on the endpoint
 * connection they share. A Node.js endpoint (nghttp2: 1,000 resets, refilled at 33 a second, per
 * connection) then sends GOAWAY on it. `client.maxResetsPerConnection` retires the connection first:
 * new calls go on a fresh one, its calls (another pod's long call) finish on it, and it closes empty.
 */

const ADDRESSES = 4;
const CALLS_PER_ROUND = 100;
const ROUNDS = 4; // 1,600 resets in all, 400 per address: over nghttp2's 1,000, under the router's 1,000 a second per address

const request = (method: string): FieldInput[] => [
  [':method', 'POST'],
  [':scheme', 'http'],
  [':path', `/kgr.test.TestService/${method}`],
  [':authority', 'router'],
  ['content-type', 'application/grpc'],
  ['te', 'trailers'],
];

/** A node:http2 endpoint: `Long` is answered with headers and held until `endLong`; other calls never get an answer. */
async function startEndpoint() {
  let seen = 0;
  let waiters: (() => void)[] = [];
  let long: http2.ServerHttp2Stream | undefined;
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    if (headers[':path'] === '/kgr.test.TestService/Long') {
      long = stream;
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    } else seen++;
    for (const w of waiters.splice(0)) w();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    /** Resolves once `n` unanswered calls have arrived in all. */
    seen: (n: number) => new Promise<void>((resolve) => {
      const check = () => (seen >= n ? resolve() : waiters.push(check));
      check();
    }),
    longStarted: () => new Promise<http2.ServerHttp2Stream>((resolve) => {
      const check = () => (long !== undefined ? resolve(long) : waiters.push(check));
      check();
    }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A TCP relay to `port` that reads the endpoint's frames: the GOAWAYs it sends to the router. */
async function startRelay(port: number) {
  const goaways: { lastStreamId: number; errorCode: number }[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((down) => {
    const up = net.connect(port, '127.0.0.1');
    const frames = new Recorder();
    const reader = new FrameReader(frames, { role: 'client', maxFrameSize: 16_777_215 });
    up.on('data', (chunk: Buffer) => {
      const before = frames.events.length;
      reader.push(chunk);
      for (const e of frames.events.slice(before)) if (e.kind === 'goaway') goaways.push({ lastStreamId: e.lastStreamId, errorCode: e.errorCode });
      frames.events.length = 0;
    });
    for (const s of [up, down]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
    down.pipe(up);
    up.pipe(down);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    goaways,
    close: async () => {
      for (const s of sockets) s.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

async function limitCount(text: string, key: string): Promise<number> {
  const line = text.split('\n').find((l) => l.startsWith('kgr_limits_reached_total{') && l.includes(`limit="${key}"`));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

test('cancels of many client addresses, each under its own limit, retire the shared endpoint connection before the endpoint sends GOAWAY; another pod\'s long call finishes on it', { timeout: 60_000 }, async () => {
  const endpoint = await startEndpoint();
  const relay = await startRelay(endpoint.port);
  const h = await startRouter('/svc/kgr.test.TestService => /#/test/endpoint');
  h.namer.serve('endpoint', [relay.port]);
  const clients: RawClient[] = [];
  try {
    // Another pod's long call, on the endpoint connection everyone shares.
    const pod = await RawClient.connect(h.port, [], '127.0.0.9');
    clients.push(pod);
    pod.request(1, request('Long'), false);
    pod.send();
    await pod.wait((e) => e.kind === 'headers' && e.streamId === 1);
    const long = await endpoint.longStarted();

    for (let i = 0; i < ADDRESSES; i++) clients.push(await RawClient.connect(h.port, [], `127.0.0.${i + 2}`));
    const cancelling = clients.slice(1);
    let arrived = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const first = 1 + 2 * CALLS_PER_ROUND * round;
      for (const c of cancelling) {
        for (let k = 0; k < CALLS_PER_ROUND; k++) c.request(first + 2 * k, request('Unary'), false);
        c.send();
      }
      // Reset once the endpoint has them: each reset then goes on to it.
      await endpoint.seen((arrived += ADDRESSES * CALLS_PER_ROUND));
      // Then a PING round trip on each: the router has read (and passed on) the round's resets before the next round's calls.
      const tag = Buffer.from(`round--${round}`);
      await Promise.all(cancelling.map((c) => {
        for (let k = 0; k < CALLS_PER_ROUND; k++) c.writer.rstStream(first + 2 * k, ErrorCode.CANCEL);
        c.writer.ping(tag, false);
        c.send();
        return c.wait((e) => e.kind === 'ping' && e.ack && e.opaque === tag.toString('hex'));
      }));
    }

    // The long call's connection is retired, not ended: the call goes on and finishes there.
    const longSession = long.session!;
    const sessionClosed = once(longSession, 'close');
    long.end();
    await pod.wait((e) => e.kind === 'headers' && e.streamId === 1 && e.endStream);
    assert.deepEqual(pod.blocks(1).at(-1), [['grpc-status', '0']]);
    // Retired, it closes once that call, its last, has ended.
    await sessionClosed;

    // nghttp2's rate limit sends GOAWAY(INTERNAL_ERROR); Node answers the router's own GOAWAY (a retired connection) with a NO_ERROR one.
    assert.deepEqual(relay.goaways.filter((g) => g.errorCode !== ErrorCode.NO_ERROR), [], 'the endpoint ended no connection for its resets');
    const metrics = await h.metrics.registry.metrics();
    assert.equal(await limitCount(metrics, 'client.maxResetsPerConnection'), ROUNDS, 'one connection retired per round of 400 resets');
    assert.equal(await limitCount(metrics, 'servers[].maxResetStreamsPerSecond'), 0, 'no address passed its own limit');
  } finally {
    for (const c of clients) c.close();
    await h.close();
    await relay.close();
    await endpoint.close();
  }
});
