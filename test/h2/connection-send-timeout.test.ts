// sendTimeoutMs: a peer that takes none of what the engine sends is bounded in time. Real sockets
// on 127.0.0.1 and raw frames; the engine's clock is a FakeClock the tests move, so no test waits
// for the timeout itself.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { CLIENT_PREFACE, ErrorCode, FrameType, FrameWriter, SettingId } from '../../src/h2/frames.js';
import { HpackEncoder } from '../../src/h2/hpack/index.js';
import { eventually } from '../support/eventually.js';
import type { H2LimitName } from '../../src/h2/limits.js';
import { h2Server, RawClient } from './connection-helpers.js';
import { FakeClock } from '../support/fake-clock.js';

const GET = RawClient.GET;
const TIMEOUT = 1000;

describe('H2Connection sendTimeoutMs', () => {
  it('a stream whose window the peer keeps shut is reset (CANCEL) once nothing moved for sendTimeoutMs; a stream it reads from, however slowly, is not', { timeout: 10_000 }, async () => {
    const clock = new FakeClock(10_000);
    const limits: H2LimitName[] = [];
    const body = Buffer.alloc(1000, 7);
    const { server, port, handlers } = await h2Server({ sendTimeoutMs: TIMEOUT, clock, onLimit: (l) => limits.push(l) }, (h) => {
      h.onStreamHook = (s) => { s.sendHeaders([[':status', '200']], false); s.write(body, true); };
    });
    const c = await RawClient.connect(port, [{ id: SettingId.INITIAL_WINDOW_SIZE, value: 100 }]);
    const got = (id: number) => c.events.reduce((n, e) => n + (e.kind === 'data' && e.streamId === id ? e.data.length / 2 : 0), 0);
    const rstOf = (id: number) => c.rsts().filter((r) => r.streamId === id);
    try {
      c.request(1, GET, true);
      c.request(3, GET, true);
      c.send();
      await c.wait(() => got(1) === 100 && got(3) === 100);
      const h = handlers[0]!;

      // Stream 3 moves a little before the timeout; stream 1 never does.
      clock.advance(600);
      c.writer.windowUpdate(3, 10);
      c.send();
      await c.wait(() => got(3) === 110);
      clock.advance(TIMEOUT - 600);
      await c.wait((e) => e.kind === 'rst' && e.streamId === 1);
      assert.deepEqual(rstOf(1), [{ streamId: 1, errorCode: ErrorCode.CANCEL }]);
      await h.wait((e) => e.kind === 'reset' && e.id === 1);
      assert.deepEqual(h.events.find((e) => e.kind === 'reset' && e.id === 1), { kind: 'reset', id: 1, code: ErrorCode.CANCEL, refused: false });
      assert.deepEqual(limits, ['sendTimeoutMs']);
      assert.deepEqual(rstOf(3), [], 'stream 3 took bytes 400 ms ago: its time runs from then');

      // Its own sendTimeoutMs after it last moved (checked every half of it), stream 3 goes too.
      clock.advance(TIMEOUT / 2);
      assert.deepEqual(rstOf(3), []);
      clock.advance(TIMEOUT / 2);
      await c.wait((e) => e.kind === 'rst' && e.streamId === 3);
      assert.deepEqual(rstOf(3), [{ streamId: 3, errorCode: ErrorCode.CANCEL }]);
      assert.deepEqual(limits, ['sendTimeoutMs', 'sendTimeoutMs']);

      // The connection itself is fine: the next request is answered in full.
      c.writer.settings([{ id: SettingId.INITIAL_WINDOW_SIZE, value: 65_535 }]);
      c.request(5, GET, true);
      c.send();
      await c.wait((e) => e.kind === 'data' && e.streamId === 5 && e.endStream);
      assert.equal(got(5), 1000);
      assert.ok(!c.events.some((e) => e.kind === 'goaway'));
    } finally {
      c.close();
      server.close();
    }
  });

  it('a peer that reads nothing of its socket: the connection goes after socketTimeoutMs with onUnresponsive, not before; an idle one stays', { timeout: 10_000 }, async () => {
    const clock = new FakeClock(10_000);
    const limits: H2LimitName[] = [];
    let unresponsive = 0;
    const chunk = Buffer.alloc(1 << 20, 1);
    // Without sendTimeoutMs: the socket's bound is its own (an endpoint connection's streams wait on windows for their deadlines).
    const { server, port, handlers, conns } = await h2Server({ socketTimeoutMs: TIMEOUT, clock, onLimit: (l) => limits.push(l) }, (h) => {
      (h as { onUnresponsive?: () => void }).onUnresponsive = () => unresponsive++;
      // 64 MiB offered, fed as the engine drains: far more than the socket buffers on both ends hold.
      h.onStreamHook = (s) => {
        s.sendHeaders([[':status', '200']], false);
        let left = 64;
        const feed = (): void => { while (left > 0) { left--; if (!s.write(chunk, left === 0)) return; } };
        h.onDrainHook = feed;
        feed();
      };
    });
    const c = await RawClient.connect(port, [{ id: SettingId.INITIAL_WINDOW_SIZE, value: 2 ** 31 - 1 }]);
    try {
      const h = handlers[0]!;
      const socket = conns[0]!.socket;
      // Ten timeouts with nothing to send: nothing is stuck.
      clock.advance(10 * TIMEOUT);
      assert.ok(!socket.destroyed && unresponsive === 0);
      c.writer.windowUpdate(0, 2 ** 31 - 1 - 65_535);
      c.request(1, GET, true);
      c.send();
      await c.wait((e) => e.kind === 'headers' && e.streamId === 1);
      c.socket.pause();
      // Move the clock half a timeout at a time, one event-loop turn apart, until the engine gives
      // up on the socket; bounded, so a connection that never goes fails the test.
      const start = clock.now();
      for (let i = 0; i < 400 && !socket.destroyed; i++) {
        clock.advance(TIMEOUT / 2);
        await new Promise((r) => setImmediate(r));
      }
      assert.ok(socket.destroyed, 'the connection of a peer that reads nothing was destroyed');
      assert.ok(clock.now() - start >= TIMEOUT, 'not before socketTimeoutMs');
      const closed = await h.wait((e) => e.kind === 'close');
      assert.match(String((closed as { error: Error | null }).error?.message), /read nothing of what its socket holds for 1000 ms \(socketTimeoutMs\)/);
      assert.equal(unresponsive, 1);
      assert.deepEqual(limits.filter((l) => l === 'socketTimeoutMs'), ['socketTimeoutMs'], 'once (the others are maxQueuedBytes: the stream was held back)');
      assert.ok(h.events.some((e) => e.kind === 'reset' && e.id === 1), 'the stream was aborted with its connection');
    } finally {
      c.close();
      server.close();
    }
  });
});

describe('H2Connection: a peer that sends requests and reads no answer', () => {
  it('is no longer read once the socket holds maxQueuedBytes, keepalive does not take that for its silence, and every answer arrives once it reads again', { timeout: 30_000 }, async () => {
    const LIMIT = 1 << 20;
    const REQUESTS = 40_000;
    let peakHeld = 0;
    let answered = 0;
    let unanswered = 0;
    const clock = new FakeClock(10_000);
    const { server, port, conns } = await h2Server({ maxQueuedBytes: LIMIT, clock }, (h) => {
      // A 1 KiB header value unlike every other: HPACK cannot shrink the answers, and HEADERS are
      // not flow controlled. 40,000 of them are 40 MB, far more than both ends' kernel buffers hold.
      h.onStreamHook = (s) => {
        s.sendHeaders([[':status', '200'], ['x-pad', randomBytes(512).toString('hex')]], true);
        answered++;
        peakHeld = Math.max(peakHeld, conns[0]!.socket.writableLength);
      };
    });
    // A bare socket that reads nothing until told (no 'data' listener yet); once HPACK has indexed
    // them, a request costs it a few bytes.
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    const writer = new FrameWriter();
    const encoder = new HpackEncoder({ huffman: 'never' });
    writer.settings([]);
    for (let i = 0, id = 1; i < REQUESTS; i++, id += 2) writer.headers(id, encoder.encode(RawClient.GET), true);
    socket.write(Buffer.concat([CLIENT_PREFACE, ...writer.flush()]));
    try {
      await eventually('the connection', () => conns.length === 1);
      const conn = conns[0]!;
      conn.keepAlive(10_000, 5_000, () => unanswered++);
      await eventually('the server stops reading the peer', () => conn.counters.readsHeld > 0, 20_000);
      // Minutes without a read, all of them ours: no PING goes unanswered.
      clock.advance(60_000);
      assert.equal(unanswered, 0, 'keepalive took the held reads for a dead peer');
      assert.ok(answered < REQUESTS, `${answered} of ${REQUESTS} answered while the peer read nothing`);
      // The answers to one read's requests go out before the check: that much past the limit, no more.
      const BOUND = LIMIT + 16 * 1024 * 1024;
      assert.ok(peakHeld < BOUND, `the socket held ${peakHeld} bytes`);
      // Nothing was lost: once the peer reads, every request is answered.
      let ends = 0;
      let carry = Buffer.alloc(0);
      const allAnswered = new Promise<void>((resolve) => socket.on('data', (chunk: Buffer) => {
        let buf = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
        while (buf.length >= 9) {
          const length = buf.readUIntBE(0, 3);
          if (buf.length < 9 + length) break;
          if (buf[3] === FrameType.HEADERS && (buf[4]! & 0x1) !== 0 && ++ends === REQUESTS) resolve();
          buf = buf.subarray(9 + length);
        }
        carry = Buffer.from(buf);
      }));
      await allAnswered;
      assert.equal(answered, REQUESTS);
      assert.ok(peakHeld < BOUND, `the socket held ${peakHeld} bytes`);
    } finally {
      socket.destroy();
      server.close();
    }
  });
});
