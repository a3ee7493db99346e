import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { startRouter, type Harness } from './setup.js';
import { SERVER_DEFAULTS } from '../proxy/harness.js';
import { startRawBackend, answerOk } from '../fixtures/grpc/raw-backend.js';
import { RawClient, FrameType } from '../h2/connection-helpers.js';
import { rawFrame } from '../h2/frames-helpers.js';
import { ErrorCode, Flag } from '../../src/h2/frames.js';
import type { FieldInput } from '../../src/h2/hpack/index.js';
import type { ServerConfig } from '../../src/config/types.js';
import { eventually } from '../support/eventually.js';

/**
 * Issue 11, item 5: the limits every public proxy has, on the router's own HTTP/2 engine. Each is a
 * `servers[]` key, each trips for a client that breaks it, costs that client (its stream or its
 * connection) and no one else, and is counted in `kgr_limits_reached_total{limit}`. Raw frames from
 * a hand-driven client on 127.0.0.1, since well-behaved HTTP/2 libraries cannot send these.
 */

const SVC = '/svc/kgr.test.TestService';
const GRPC_REQUEST: FieldInput[] = [
  [':method', 'POST'],
  [':scheme', 'http'],
  [':path', '/kgr.test.TestService/Unary'],
  [':authority', 'router'],
  ['content-type', 'application/grpc'],
  ['te', 'trailers'],
];
const EMPTY_MESSAGE = Buffer.from([0, 0, 0, 0, 0]);

const STUCK_REQUEST: FieldInput[] = GRPC_REQUEST.map(([n, v]) => [n, n === ':path' ? '/kgr.test.Stuck/Unary' : v]);

/** A router whose TestService reaches an answering backend and whose `Stuck` service never binds. */
async function setup(server: Partial<ServerConfig>): Promise<{ h: Harness; close(): Promise<void> }> {
  const backend = await startRawBackend((s) => answerOk(s));
  const h = await startRouter(`${SVC} => /#/test/backend; /svc/kgr.test.Stuck => /#/test/stuck`, { servers: [{ ...SERVER_DEFAULTS, ...server }] });
  h.namer.serve('backend', [backend.port]);
  h.namer.pending('stuck');
  return {
    h,
    close: async () => {
      await h.close();
      await backend.close();
    },
  };
}

async function limitCount(h: Harness, key: string): Promise<number> {
  const text = await h.metrics.registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith('kgr_limits_reached_total{') && l.includes(`limit="servers[].${key}"`));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

/** A complete gRPC call on `c` (stream `id`): answered 200 with grpc-status 0. */
async function callOk(c: RawClient, id: number): Promise<void> {
  c.request(id, GRPC_REQUEST, false);
  c.writer.data(id, EMPTY_MESSAGE, true);
  c.send();
  await c.wait((e) => e.kind === 'headers' && e.streamId === id && e.endStream);
  const trailers = c.blocks(id).at(-1)!;
  assert.deepEqual(trailers.find(([n]) => n === 'grpc-status'), ['grpc-status', '0'], JSON.stringify(c.blocks(id)));
}

test('a header field over 64 KiB refuses only its stream, with RESOURCE_EXHAUSTED; the connection and its other calls go on', async () => {
  const { h, close } = await setup({});
  const c = await RawClient.connect(h.port);
  try {
    // A call in flight on the same connection: request not yet ended.
    c.request(1, GRPC_REQUEST, false);
    c.send();
    c.request(3, [...GRPC_REQUEST, ['x-huge', 'a'.repeat(70 * 1024)]], true);
    c.send();
    await c.wait((e) => e.kind === 'headers' && e.streamId === 3);
    const refused = Object.fromEntries(c.blocks(3)[0]!);
    assert.equal(refused['grpc-status'], '8');
    assert.match(decodeURIComponent(refused['grpc-message']!), /request header list exceeds the limit of 16384 bytes \(servers\[\]\.maxHeaderListBytes\)/);
    // The first call completes, a new one succeeds, and the router never sent GOAWAY.
    c.writer.data(1, EMPTY_MESSAGE, true);
    c.send();
    await c.wait((e) => e.kind === 'headers' && e.streamId === 1 && e.endStream);
    await callOk(c, 5);
    assert.equal(c.events.filter((e) => e.kind === 'goaway').length, 0);
    assert.equal(await limitCount(h, 'maxHeaderListBytes'), 1);
  } finally {
    c.close();
    await close();
  }
});

test('a non-gRPC request with too large a header list gets 431 on its stream only', async () => {
  const { h, close } = await setup({});
  const session = http2.connect(`http://${h.target}`, { maxSendHeaderBlockLength: 1 << 20 } as http2.ClientSessionOptions);
  session.on('error', () => {});
  try {
    const req = session.request({ ':method': 'GET', ':path': '/', 'x-huge': 'b'.repeat(20_000) }, { endStream: true });
    const headers = await new Promise<http2.IncomingHttpHeaders>((resolve) => req.once('response', (h) => resolve(h)));
    assert.equal(headers[':status'], 431);
    let body = '';
    req.setEncoding('utf8');
    for await (const chunk of req) body += chunk;
    assert.match(body, /exceeds the limit of 16384 bytes/);
  } finally {
    session.destroy();
    await close();
  }
});

test('streams above maxConcurrentStreamsPerConnection are refused (REFUSED_STREAM) and counted; the open ones complete', async () => {
  const { h, close } = await setup({ maxConcurrentStreamsPerConnection: 2 });
  const c = await RawClient.connect(h.port);
  try {
    for (const id of [1, 3, 5]) c.request(id, GRPC_REQUEST, false);
    c.send();
    await c.wait((e) => e.kind === 'rst' && e.streamId === 5);
    assert.deepEqual(c.rsts(), [{ streamId: 5, errorCode: ErrorCode.REFUSED_STREAM }]);
    for (const id of [1, 3]) c.writer.data(id, EMPTY_MESSAGE, true);
    c.send();
    await c.wait((e) => e.kind === 'headers' && e.streamId === 3 && e.endStream);
    await c.wait((e) => e.kind === 'headers' && e.streamId === 1 && e.endStream);
    assert.equal(await limitCount(h, 'maxConcurrentStreamsPerConnection'), 1);
  } finally {
    c.close();
    await close();
  }
});

test('rapid reset (CVE-2023-44487): more resets of unanswered streams than maxResetStreamsPerSecond end that connection only', async () => {
  const { h, close } = await setup({ maxResetStreamsPerSecond: 20 });
  const bystander = await RawClient.connect(h.port);
  const attacker = await RawClient.connect(h.port);
  try {
    // The name never binds, so every stream is still unanswered when it is reset.
    for (let i = 0; i < 30; i++) {
      const id = 1 + 2 * i;
      attacker.request(id, STUCK_REQUEST, false);
      attacker.writer.rstStream(id, ErrorCode.CANCEL);
    }
    attacker.send();
    const goaway = await attacker.wait((e) => e.kind === 'goaway');
    assert.equal((goaway as { errorCode: number }).errorCode, ErrorCode.ENHANCE_YOUR_CALM);
    await attacker.waitClose();
    assert.equal(await limitCount(h, 'maxResetStreamsPerSecond'), 1);
    // The other client's connection is untouched.
    await callOk(bystander, 1);
  } finally {
    attacker.close();
    bystander.close();
    await close();
  }
});

test('rapid reset (CVE-2023-44487) counts per client address: its connections, each under maxResetStreamsPerSecond, together over it, get GOAWAY on the one that passes it; another address is unaffected', async () => {
  const { h, close } = await setup({ maxResetStreamsPerSecond: 20 });
  const from = (localAddress: string) => RawClient.connect(h.port, [], localAddress);
  const a1 = await from('127.0.0.1');
  const a2 = await from('127.0.0.1');
  const b = await from('127.0.0.2');
  /** 15 streams to a name that never binds, each reset unanswered, then a PING: its ACK, or the GOAWAY that came first. */
  const resets = (c: RawClient, first: number, tag: string): Promise<{ kind: string; errorCode?: number; debug?: string }> => {
    for (let i = 0; i < 15; i++) {
      const id = first + 2 * i;
      c.request(id, STUCK_REQUEST, false);
      c.writer.rstStream(id, ErrorCode.CANCEL);
    }
    c.writer.ping(Buffer.from(tag), false);
    c.send();
    return c.wait((e) => e.kind === 'goaway' || (e.kind === 'ping' && e.ack && Buffer.from(e.opaque, 'hex').toString() === tag)) as Promise<{ kind: string; errorCode?: number; debug?: string }>;
  };
  try {
    assert.equal((await resets(a1, 1, 'a1------')).kind, 'ping', 'under the limit alone');
    // Another address's resets count on their own.
    assert.equal((await resets(b, 1, 'b-------')).kind, 'ping', 'another address counts apart');
    // a2's 6th reset is the client address's 21st: a2 gets GOAWAY ENHANCE_YOUR_CALM.
    const goaway = await resets(a2, 1, 'a2------');
    assert.equal(goaway.kind, 'goaway', 'the connection whose reset passed the per-address limit');
    assert.equal(goaway.errorCode, ErrorCode.ENHANCE_YOUR_CALM);
    assert.match(Buffer.from(goaway.debug!, 'hex').toString(), /^rapid-reset: more than 20 streams reset before their response within 1000 ms from this client address, over all its connections/);
    await a2.waitClose();
    assert.equal(await limitCount(h, 'maxResetStreamsPerSecond'), 1);
    // The address's other connection, and the other address, go on.
    await callOk(a1, 31);
    await callOk(b, 31);
    assert.equal(a1.events.filter((e) => e.kind === 'goaway').length, 0);
    assert.equal(b.events.filter((e) => e.kind === 'goaway').length, 0);
  } finally {
    a1.close();
    a2.close();
    b.close();
    await close();
  }
});

test('a CONTINUATION flood (more than maxContinuationFrames) is cut off with GOAWAY(ENHANCE_YOUR_CALM)', async () => {
  const { h, close } = await setup({ maxContinuationFrames: 4 });
  const c = await RawClient.connect(h.port);
  try {
    const block = c.encoder.encode(GRPC_REQUEST);
    const pieces: Buffer[] = [rawHeaders(1, block.subarray(0, 1), false)];
    for (let i = 1; i < block.length && i <= 10; i++) pieces.push(rawContinuation(1, Buffer.alloc(0), false));
    c.send(...pieces);
    const goaway = await c.wait((e) => e.kind === 'goaway');
    assert.equal((goaway as { errorCode: number }).errorCode, ErrorCode.ENHANCE_YOUR_CALM);
    await c.waitClose();
    assert.equal(await limitCount(h, 'maxContinuationFrames'), 1);
  } finally {
    c.close();
    await close();
  }
});

test('PING, SETTINGS and empty-frame floods are cut off with GOAWAY(ENHANCE_YOUR_CALM) and counted by key', async () => {
  const { h, close } = await setup({ maxPingsPerSecond: 5, maxSettingsPerSecond: 5, maxEmptyFramesPerSecond: 5 });
  try {
    const floods: [string, (c: RawClient) => void][] = [
      ['maxPingsPerSecond', (c) => { for (let i = 0; i < 10; i++) c.writer.ping(Buffer.alloc(8, i), false); }],
      ['maxSettingsPerSecond', (c) => { for (let i = 0; i < 10; i++) c.writer.settings([]); }],
      ['maxEmptyFramesPerSecond', (c) => {
        c.request(1, GRPC_REQUEST, false);
        for (let i = 0; i < 10; i++) c.writer.data(1, Buffer.alloc(0), false);
      }],
    ];
    for (const [key, flood] of floods) {
      const c = await RawClient.connect(h.port);
      flood(c);
      c.send();
      const goaway = await c.wait((e) => e.kind === 'goaway');
      assert.equal((goaway as { errorCode: number }).errorCode, ErrorCode.ENHANCE_YOUR_CALM, key);
      await c.waitClose();
      assert.equal(await limitCount(h, key), 1, key);
    }
  } finally {
    await close();
  }
});

function rawHeaders(id: number, fragment: Buffer, endHeaders: boolean): Buffer {
  return rawFrame(FrameType.HEADERS, endHeaders ? Flag.END_HEADERS : 0, id, fragment);
}
function rawContinuation(id: number, fragment: Buffer, endHeaders: boolean): Buffer {
  return rawFrame(FrameType.CONTINUATION, endHeaders ? Flag.END_HEADERS : 0, id, fragment);
}

test('connections past maxConnectionsPerClient from one address are closed as they arrive and counted; other addresses still get in', async () => {
  const { h, close } = await setup({ maxConnectionsPerClient: 2 });
  const from = (localAddress: string) => RawClient.connect(h.port, [], localAddress);
  const first = await from('127.0.0.1');
  const second = await from('127.0.0.1');
  const third = net.connect({ port: h.port, host: '127.0.0.1', localAddress: '127.0.0.1' });
  third.on('error', () => {});
  const thirdClosed = new Promise<void>((resolve) => third.once('close', () => resolve()));
  const other = await from('127.0.0.2');
  try {
    await thirdClosed;
    assert.equal(await limitCount(h, 'maxConnectionsPerClient'), 1);
    await callOk(first, 1);
    await callOk(second, 1);
    await callOk(other, 1);
    // A slot frees when its connection closes.
    first.close();
    await first.waitClose();
    await eventually('the closed connection left the server', async () => / 2$/m.test((await h.metrics.registry.metrics()).split('\n').filter((l) => l.startsWith('kgr_server_connections{')).join('\n')));
    const again = await from('127.0.0.1');
    await callOk(again, 1);
    again.close();
  } finally {
    second.close();
    other.close();
    third.destroy();
    await close();
  }
});

test('connections past maxConnections are closed as they arrive and counted; the open ones keep working', async () => {
  const { h, close } = await setup({ maxConnections: 2 });
  const first = await RawClient.connect(h.port);
  const second = await RawClient.connect(h.port);
  const third = net.connect(h.port, '127.0.0.1');
  third.on('error', () => {});
  try {
    await new Promise<void>((resolve) => third.once('close', () => resolve()));
    assert.equal(await limitCount(h, 'maxConnections'), 1);
    await callOk(first, 1);
    await callOk(second, 1);
  } finally {
    first.close();
    second.close();
    third.destroy();
    await close();
  }
});

test('request bytes held for all clients past maxBufferedBytes stop the connections holding them, shown and counted; other clients are served', async () => {
  const { h, close } = await setup({ maxBufferedBytes: 1 << 20 });
  const buffered = async (): Promise<number> => {
    const text = await h.metrics.registry.metrics();
    const line = text.split('\n').find((l) => l.startsWith('kgr_server_buffered_bytes{'));
    return line === undefined ? -1 : Number(line.split(' ').pop());
  };
  // Each sends a window's worth (1 MiB) to a name that never binds: the router holds it all.
  const hogs = await Promise.all([1, 2, 3].map(() => RawClient.connect(h.port)));
  const other = await RawClient.connect(h.port);
  try {
    for (const c of hogs) {
      c.request(1, STUCK_REQUEST, false);
      c.writer.data(1, Buffer.alloc(1 << 20), true);
      c.send();
    }
    await eventually('two of the three were stopped', async () => (await limitCount(h, 'maxBufferedBytes')) >= 2, 10_000);
    const held = await buffered();
    assert.ok(held > 1 << 20 && held <= (1 << 20) + 3 * 80 * 1024, `kgr_server_buffered_bytes ${held}`);
    await callOk(other, 1);
  } finally {
    for (const c of [...hogs, other]) c.close();
    await close();
  }
});

test('request headers held by calls in flight are bounded per client address and per server: past either, a call is answered RESOURCE_EXHAUSTED naming the key', async () => {
  // Each stuck call holds ~4.2 KB of headers (it waits for a binding, headers kept for a retry).
  const { h, close } = await setup({ maxHeaderBytesInFlightPerClient: 10_000, maxHeaderBytesInFlight: 15_000 });
  const big: FieldInput[] = [...STUCK_REQUEST, ['x-pad', 'a'.repeat(4000)]];
  const from = (localAddress: string) => RawClient.connect(h.port, [], localAddress);
  const a = await from('127.0.0.1');
  const b = await from('127.0.0.2');
  const refusal = async (c: RawClient, id: number): Promise<string | undefined> => {
    await c.wait((e) => e.kind === 'headers' && e.streamId === id && e.endStream);
    const block = c.blocks(id).at(-1)!;
    assert.deepEqual(block.find(([n]) => n === 'grpc-status'), ['grpc-status', '8'], JSON.stringify(block)); // RESOURCE_EXHAUSTED
    return block.find(([n]) => n === 'grpc-message')?.[1];
  };
  try {
    // Two calls from a fit its 10,000 bytes; the third does not, and costs only its stream.
    for (const id of [1, 3, 5]) a.request(id, big, false);
    a.send();
    assert.match((await refusal(a, 5))!, /^this client's calls in flight hold \d+ bytes of request headers \(servers\[\]\.maxHeaderBytesInFlightPerClient\)$/);
    assert.equal(await limitCount(h, 'maxHeaderBytesInFlightPerClient'), 1);
    // b fits its own 10,000, but the server's 15,000 are spent after its first.
    for (const id of [1, 3]) b.request(id, big, false);
    b.send();
    assert.match((await refusal(b, 3))!, /^the router holds \d+ bytes of request headers for calls in flight on this server \(servers\[\]\.maxHeaderBytesInFlight\)$/);
    assert.equal(await limitCount(h, 'maxHeaderBytesInFlight'), 1);
    // Small calls still fit beside them, and are answered.
    await callOk(b, 5);
    // A cancelled call gives its bytes back (frames are read in order: once the PING after the
    // RST_STREAM is answered, it was), and a's next big call gets in: it waits like the others.
    a.writer.rstStream(1, ErrorCode.CANCEL);
    a.writer.ping(Buffer.from('released'), false);
    a.send();
    await a.wait((e) => e.kind === 'ping' && e.ack && e.opaque === Buffer.from('released').toString('hex'));
    // (A refusal is written as the stream is read, so it would come before the PING's ACK.)
    a.request(7, big, false);
    a.writer.ping(Buffer.from('admitted'), false);
    a.send();
    await a.wait((e) => e.kind === 'ping' && e.ack && e.opaque === Buffer.from('admitted').toString('hex'));
    assert.equal(a.blocks(7).length, 0, 'the call that fits is waiting, not answered');
    assert.equal(await limitCount(h, 'maxHeaderBytesInFlightPerClient'), 1);
  } finally {
    a.close();
    b.close();
    await close();
  }
});

test('request trailers count with the headers calls in flight keep: trailers past the bound end their call with RESOURCE_EXHAUSTED, naming the key', async () => {
  const { h, close } = await setup({ maxHeaderBytesInFlightPerClient: 5000 });
  const c = await RawClient.connect(h.port);
  const trailers: FieldInput[] = [['x-pad', 'a'.repeat(4000)]];
  try {
    // A stuck call with ~4.3 KB of trailers fits (the router keeps them, as it waits for a binding).
    c.request(1, STUCK_REQUEST, false);
    c.writer.data(1, EMPTY_MESSAGE, false);
    c.writer.headers(1, c.encoder.encode(trailers), true);
    // A second one's headers still fit; its trailers do not.
    c.request(3, STUCK_REQUEST, false);
    c.writer.data(3, EMPTY_MESSAGE, false);
    c.writer.headers(3, c.encoder.encode(trailers), true);
    c.writer.ping(Buffer.from('trailers'), false);
    c.send();
    await c.wait((e) => e.kind === 'headers' && e.streamId === 3 && e.endStream);
    const answer = c.blocks(3).at(-1)!;
    assert.deepEqual(answer.find(([n]) => n === 'grpc-status'), ['grpc-status', '8']);
    assert.match(answer.find(([n]) => n === 'grpc-message')![1], /^this client's calls in flight hold \d+ bytes of request headers \(servers\[\]\.maxHeaderBytesInFlightPerClient\)$/);
    assert.equal(await limitCount(h, 'maxHeaderBytesInFlightPerClient'), 1);
    await c.wait((e) => e.kind === 'ping' && e.ack);
    assert.equal(c.blocks(1).length, 0, 'the first call still waits for its binding');
  } finally {
    c.close();
    await close();
  }
});

test('request trailers after the answer are not kept, so not counted: a call over the bound is not failed for them', async () => {
  const { h, close } = await setup({ maxHeaderBytesInFlightPerClient: 5000 });
  const c = await RawClient.connect(h.port);
  try {
    // The endpoint answers at once (answerOk), before the request ends.
    c.request(1, GRPC_REQUEST, false);
    c.send();
    await c.wait((e) => e.kind === 'headers' && e.streamId === 1 && e.endStream);
    assert.deepEqual(c.blocks(1).at(-1)!.find(([n]) => n === 'grpc-status'), ['grpc-status', '0']);
    // Trailers larger than the client's bound now go nowhere: nothing is refused or counted.
    c.writer.headers(1, c.encoder.encode([['x-pad', 'a'.repeat(6000)]]), true);
    c.writer.ping(Buffer.from('late-trl'), false);
    c.send();
    await c.wait((e) => e.kind === 'ping' && e.ack);
    assert.equal(await limitCount(h, 'maxHeaderBytesInFlightPerClient'), 0);
    await callOk(c, 3);
  } finally {
    c.close();
    await close();
  }
});
