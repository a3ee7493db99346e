import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { H2Server, type CloseReason } from '../../src/proxy/server.js';
import type { ServerConfig } from '../../src/config/types.js';
import { defaultServerConfig } from '../../src/config/load.js';
import { Logger } from '../../src/util/log.js';
import type { H2Stream } from '../../src/h2/stream.js';
import { testClient, unary } from '../fixtures/grpc/test-service.js';
import { CLIENT_PREFACE as PREFACE, ErrorCode, FrameType } from '../../src/h2/frames.js';
import { rawFrame as frame } from '../h2/frames-helpers.js';

/**
 * Issue 16, item 3: every client connection ends in bounded time — after nghttp2 sends GOAWAY for a
 * protocol error, when it never sends a preface, and when it carries no stream for idleTimeoutMs.
 * Real sockets on 127.0.0.1; timeouts are made short through config, and the tests wait for events
 * (a socket's 'close', the server's connection count), bounded by each test's timeout.
 */

const SETTINGS = frame(FrameType.SETTINGS, 0, 0, Buffer.alloc(0));
const { GOAWAY, PING, DATA } = FrameType;
const { PROTOCOL_ERROR } = ErrorCode;

interface Frame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

/** A raw TCP client that records the frames the router sends and when the router closes. */
class RawClient {
  readonly socket: net.Socket;
  readonly frames: Frame[] = [];
  /** The router ended its side (FIN) or reset: resolves on 'close'. */
  readonly closed: Promise<{ endedByPeer: boolean }>;
  private buf = Buffer.alloc(0);
  private endedByPeer = false;
  onFrame: ((f: Frame) => void) | undefined;

  constructor(port: number, first?: Buffer) {
    this.socket = net.connect(port, '127.0.0.1');
    if (first) this.socket.write(first);
    this.socket.on('data', (d: Buffer) => this.read(d));
    this.socket.on('end', () => (this.endedByPeer = true));
    this.socket.on('error', () => {});
    this.closed = new Promise((resolve) => this.socket.on('close', () => resolve({ endedByPeer: this.endedByPeer })));
  }

  private read(d: Buffer): void {
    this.buf = Buffer.concat([this.buf, d]);
    while (this.buf.length >= 9) {
      const len = this.buf.readUIntBE(0, 3);
      if (this.buf.length < 9 + len) break;
      const f = { type: this.buf[3]!, flags: this.buf[4]!, streamId: this.buf.readUInt32BE(5) & 0x7fffffff, payload: this.buf.subarray(9, 9 + len) };
      this.buf = this.buf.subarray(9 + len);
      this.frames.push(f);
      this.onFrame?.(f);
    }
  }

  goaways(): { lastStreamId: number; code: number }[] {
    return this.frames.filter((f) => f.type === GOAWAY).map((f) => ({ lastStreamId: f.payload.readUInt32BE(0), code: f.payload.readUInt32BE(4) }));
  }
}

/**
 * How a connection nghttp2 ended with GOAWAY for a protocol error may be counted: `protocol_error`
 * where Node reports the session error (Node 24: it closes the socket itself), `unresponsive` where
 * Node stays silent and only the router's unanswered keepalive PING finds it (Node 20). Never `peer`:
 * the client here never closes first.
 */
const PROTOCOL_ERROR_CLOSES: readonly CloseReason[] = ['protocol_error', 'unresponsive'];

/** A gRPC OK with one empty message, written straight on the router's engine stream. */
function answerOk(stream: H2Stream): void {
  stream.sendHeaders([[':status', '200'], ['content-type', 'application/grpc']], false);
  stream.write(Buffer.from([0, 0, 0, 0, 0]), false);
  stream.sendHeaders([['grpc-status', '0']], true);
}

/** Resolves with `p`, or rejects naming `what` once `ms` have passed: a hang fails with a reason. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** A bare H2Server answering every stream gRPC OK, with its connection events observable. */
async function startServer(overrides: Partial<ServerConfig>) {
  const reasons: CloseReason[] = [];
  let waiter: { count: number; resolve: () => void } | undefined;
  let accepted = 0;
  const server: H2Server = new H2Server(
    { ...defaultServerConfig(), port: 0, ...overrides },
    { handleStream: (stream) => answerOk(stream) },
    Logger.silent(),
    {
      onConnection: (d) => {
        if (d > 0) accepted++;
        // The count is updated before the hook runs.
        if (waiter && server.connections === waiter.count) waiter.resolve();
      },
      onConnectionClosed: (r) => reasons.push(r),
    },
  );
  const { port } = await server.listen();
  return {
    server,
    port,
    reasons,
    get accepted() {
      return accepted;
    },
    /** Resolves once the open-connection count is `count`. */
    connections(count: number): Promise<void> {
      if (server.connections === count) return Promise.resolve();
      return new Promise((resolve) => (waiter = { count, resolve }));
    },
  };
}

test('DATA on an idle stream: the router sends GOAWAY(PROTOCOL_ERROR) and closes the connection; 100 such clients leave no connection open', { timeout: 20_000 }, async () => {
  const h = await startServer({ keepAliveIntervalMs: 100, keepAliveTimeoutMs: 200, prefaceTimeoutMs: 60_000, idleTimeoutMs: 60_000 });
  try {
    // Stream 1 was never opened: RFC 9113 §6.1, a connection error of type PROTOCOL_ERROR.
    const bad = Buffer.concat([PREFACE, SETTINGS, frame(DATA, 0, 1, Buffer.from('hello'))]);
    const clients = Array.from({ length: 100 }, () => new RawClient(h.port, bad));
    // The clients never close: a socket left open by the router fails here (keepalive 100 + 200 ms).
    const results = await within(Promise.all(clients.map((c) => c.closed)), 5000, 'the router closes all 100 connections');
    for (const [i, c] of clients.entries()) {
      assert.ok(results[i]!.endedByPeer, `client ${i}: the router closed the connection`);
      assert.equal(c.goaways()[0]?.code, PROTOCOL_ERROR, `client ${i}: GOAWAY(PROTOCOL_ERROR) came first`);
    }
    await within(h.connections(0), 5000, 'the open-connection count returns to 0');
    assert.equal(h.server.connections, 0);
    assert.equal(h.accepted, 100);
    assert.equal(h.reasons.length, 100, 'every connection counted once');
    for (const r of h.reasons) assert.ok(PROTOCOL_ERROR_CLOSES.includes(r), `close reason ${r} is one of ${PROTOCOL_ERROR_CLOSES.join(', ')}`);
    const closed = h.server.closedConnections;
    assert.equal(closed.protocol_error + closed.unresponsive, 100);
  } finally {
    await h.server.close();
  }
});

test('an oversized frame: GOAWAY(FRAME_SIZE_ERROR), then the router closes the connection', { timeout: 10_000 }, async () => {
  const h = await startServer({ keepAliveIntervalMs: 100, keepAliveTimeoutMs: 200 });
  try {
    // 16385 bytes of DATA against the default SETTINGS_MAX_FRAME_SIZE of 16384.
    const big = Buffer.concat([PREFACE, SETTINGS, frame(DATA, 0, 1, Buffer.alloc(16_385))]);
    const c = new RawClient(h.port, big);
    assert.ok((await within(c.closed, 5000, 'the router closes the connection')).endedByPeer);
    assert.equal(c.goaways()[0]?.code, ErrorCode.FRAME_SIZE_ERROR);
    await within(h.connections(0), 5000, 'the open-connection count returns to 0');
    assert.equal(h.reasons.length, 1);
    assert.ok(PROTOCOL_ERROR_CLOSES.includes(h.reasons[0]!), `close reason ${h.reasons[0]}`);
  } finally {
    await h.server.close();
  }
});

test('a healthy silent connection answers the PINGs and stays open', { timeout: 10_000 }, async () => {
  const h = await startServer({ keepAliveIntervalMs: 50, keepAliveTimeoutMs: 1000 });
  try {
    const c = new RawClient(h.port, Buffer.concat([PREFACE, SETTINGS]));
    let acked = 0;
    await new Promise<void>((resolve) => {
      c.onFrame = (f) => {
        if (f.type === FrameType.SETTINGS && !(f.flags & 1)) c.socket.write(frame(FrameType.SETTINGS, 1, 0, Buffer.alloc(0)));
        if (f.type !== PING || f.flags & 1) return;
        c.socket.write(frame(PING, 1, 0, f.payload));
        if (++acked === 3) resolve();
      };
    });
    assert.equal(h.server.connections, 1);
    assert.equal(c.socket.destroyed, false);
    assert.deepEqual(h.reasons, []);
    c.socket.destroy();
    await h.connections(0);
    assert.deepEqual(h.reasons, ['peer']);
  } finally {
    await h.server.close();
  }
});

test('a connection that sends nothing is closed after prefaceTimeoutMs', { timeout: 10_000 }, async () => {
  const h = await startServer({ prefaceTimeoutMs: 200, keepAliveIntervalMs: 0 });
  try {
    const clients = Array.from({ length: 20 }, () => new RawClient(h.port));
    for (const c of clients) assert.ok((await c.closed).endedByPeer);
    await h.connections(0);
    assert.equal(h.server.closedConnections.preface_timeout, 20);
  } finally {
    await h.server.close();
  }
});

test('a connection that sends only the preface (no SETTINGS) is closed after prefaceTimeoutMs', { timeout: 10_000 }, async () => {
  const h = await startServer({ prefaceTimeoutMs: 200, keepAliveIntervalMs: 0 });
  try {
    const c = new RawClient(h.port, PREFACE);
    assert.ok((await c.closed).endedByPeer);
    await h.connections(0);
    assert.deepEqual(h.reasons, ['preface_timeout']);
  } finally {
    await h.server.close();
  }
});

test('an idle connection gets GOAWAY(NO_ERROR) and is closed, even while the client PINGs', { timeout: 10_000 }, async () => {
  const h = await startServer({ idleTimeoutMs: 300 });
  const session = http2.connect(`http://127.0.0.1:${h.port}`);
  session.on('error', () => {});
  try {
    const goaway = new Promise<number>((resolve) => session.once('goaway', (code: number) => resolve(code)));
    const closed = new Promise<void>((resolve) => session.once('close', () => resolve()));
    // Keepalive PINGs are frames, not work: they must not keep an idle connection open.
    const pinger = setInterval(() => {
      if (!session.closed) session.ping(() => {});
    }, 50);
    try {
      assert.equal(await goaway, http2.constants.NGHTTP2_NO_ERROR);
      await closed;
    } finally {
      clearInterval(pinger);
    }
    await h.connections(0);
    assert.deepEqual(h.reasons, ['idle']);
  } finally {
    session.destroy();
    await h.server.close();
  }
});

test('a grpc-js client idle for idleTimeoutMs is closed and its next call reconnects and succeeds', { timeout: 15_000 }, async () => {
  const h = await startServer({ idleTimeoutMs: 300 });
  // keepalive PINGs without calls: the connection stays busy with frames but carries no stream.
  const client = testClient(`127.0.0.1:${h.port}`, { 'grpc.keepalive_time_ms': 100, 'grpc.keepalive_permit_without_calls': 1 });
  try {
    assert.equal((await unary(client, { message: 'one' })).error, null);
    assert.equal(h.accepted, 1);
    await h.connections(0);
    assert.deepEqual(h.reasons, ['idle']);
    const second = await unary(client, { message: 'two' });
    assert.equal(second.error, null, 'the call after the idle close succeeds');
    assert.equal(h.accepted, 2, 'on a new connection');
  } finally {
    client.close();
    await h.server.close();
  }
});

test('a connection with a stream open is not idle; the idle clock starts when the last stream ends', { timeout: 10_000 }, async () => {
  let release: (() => void) | undefined;
  let opened!: () => void;
  const streamOpened = new Promise<void>((resolve) => (opened = resolve));
  const reasons: CloseReason[] = [];
  let closedAt = 0;
  let releasedAt = 0;
  let serverClosed!: () => void;
  const serverSideClosed = new Promise<void>((resolve) => (serverClosed = resolve));
  const server = new H2Server(
    { ...defaultServerConfig(), port: 0, idleTimeoutMs: 200 },
    {
      handleStream: (stream) => {
        // Hold the stream open well past idleTimeoutMs, then answer.
        release = () => answerOk(stream);
        opened();
      },
    },
    Logger.silent(),
    {
      onConnectionClosed: (r) => {
        closedAt = performance.now();
        reasons.push(r);
        serverClosed();
      },
    },
  );
  const { port } = await server.listen();
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => {});
  try {
    const req = session.request({ ':method': 'POST', ':path': '/x.Y/Z', 'content-type': 'application/grpc' });
    req.end();
    req.resume();
    // A GOAWAY while the stream is open would be the bug.
    let goawayWhileOpen = false;
    session.once('goaway', () => (goawayWhileOpen = !req.closed));
    await streamOpened;
    // Three idle periods pass with the stream open (asserting that nothing happens needs the clock).
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(server.connections, 1);
    // The stream ends on the router no earlier than this (the client sees it end later, on a loaded
    // machine nearer the idle close, so that is not the time to measure from).
    releasedAt = performance.now();
    release!();
    await new Promise<void>((resolve) => req.once('close', () => resolve()));
    // Both ends must see the close. Which sees it first is not given: on Node 24 the client's
    // session 'close' comes before the router's (it closes on the GOAWAY + FIN and the router's side
    // closes when the client's FIN is read), on Node 20 after.
    await within(
      Promise.all([new Promise<void>((resolve) => session.once('close', () => resolve())), serverSideClosed]),
      5000,
      'both ends close after the idle timeout',
    );
    assert.equal(goawayWhileOpen, false);
    assert.deepEqual(reasons, ['idle']);
    assert.ok(closedAt - releasedAt >= 150, `closed ${Math.round(closedAt - releasedAt)} ms after the last stream was answered`);
  } finally {
    session.destroy();
    await server.close();
  }
});
