// sendTimeoutMs: a peer that takes none of what the engine sends is bounded in time. Real sockets
// on 127.0.0.1 and raw frames; the engine's clock is a FakeClock the tests move, so no test waits
// for the timeout itself.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, SettingId } from '../../src/h2/frames.js';
import type { H2Limits } from '../../src/h2/limits.js';
import { h2Server, RawClient } from './connection-helpers.js';
import { FakeClock } from '../support/fake-clock.js';

const GET = RawClient.GET;
const TIMEOUT = 1000;

describe('H2Connection sendTimeoutMs', () => {
  it('a stream whose window the peer keeps shut is reset (CANCEL) once nothing moved for sendTimeoutMs; a stream it reads from, however slowly, is not', { timeout: 10_000 }, async () => {
    const clock = new FakeClock(10_000);
    const limits: (keyof H2Limits)[] = [];
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

  it('a peer that reads nothing of its socket: the connection goes after sendTimeoutMs with onUnresponsive, not before; an idle one stays', { timeout: 10_000 }, async () => {
    const clock = new FakeClock(10_000);
    const limits: (keyof H2Limits)[] = [];
    let unresponsive = 0;
    const chunk = Buffer.alloc(1 << 20, 1);
    const { server, port, handlers, conns } = await h2Server({ sendTimeoutMs: TIMEOUT, clock, onLimit: (l) => limits.push(l) }, (h) => {
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
      assert.ok(clock.now() - start >= TIMEOUT, 'not before sendTimeoutMs');
      const closed = await h.wait((e) => e.kind === 'close');
      assert.match(String((closed as { error: Error | null }).error?.message), /read nothing for 1000 ms \(sendTimeoutMs\)/);
      assert.equal(unresponsive, 1);
      assert.deepEqual(limits.filter((l) => l === 'sendTimeoutMs'), ['sendTimeoutMs'], 'once (the others are maxQueuedBytes: the stream was held back)');
      assert.ok(h.events.some((e) => e.kind === 'reset' && e.id === 1), 'the stream was aborted with its connection');
    } finally {
      c.close();
      server.close();
    }
  });
});
