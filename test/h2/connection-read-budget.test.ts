// The read budget: what a group of server connections holds of its peers' DATA is bounded over the
// group, and only the connections holding more than their share stop being read. Real sockets on
// 127.0.0.1, raw frames.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { ReadBudget } from '../../src/h2/read-budget.js';
import type { H2LimitName } from '../../src/h2/limits.js';
import type { H2Stream } from '../../src/h2/stream.js';
import { ErrorCode, SettingId } from '../../src/h2/frames.js';
import { h2Server, RawClient, type TestHandler } from './connection-helpers.js';
import { eventually } from '../support/eventually.js';
import { FakeClock } from '../support/fake-clock.js';

const POST = [[':method', 'POST'], [':scheme', 'http'], [':path', '/'], [':authority', 'x']] as [string, string][];
const MiB = 1 << 20;
const LIMIT = 256 * 1024;
const SHARE = 16 * 1024;
/** What one socket read can add past the check (Node reads 64 KiB at a time). */
const READ = 64 * 1024;
const TIMEOUT = 1000;

/** DATA bytes the handler has seen on stream `id`. */
function received(h: TestHandler, id = 1): number {
  return h.events.reduce((n, e) => n + (e.kind === 'data' && e.id === id ? e.length : 0), 0);
}

/** Sends `bytes` of DATA on a new stream `id` (END_STREAM on the last), resolving once the socket took it all. */
async function upload(c: RawClient, bytes: number, id = 1): Promise<void> {
  c.request(id, POST, false);
  c.writer.data(id, Buffer.alloc(bytes, 7), true);
  c.send();
  if (c.socket.writableLength > 0) await once(c.socket, 'drain');
}

describe('H2Connection read budget', () => {
  it('past the budget, a connection holding more than its share is not read; one whose bytes flow is; consuming resumes the first', { timeout: 20_000 }, async () => {
    const budget = new ReadBudget(LIMIT, SHARE);
    const limits: H2LimitName[] = [];
    const streams: H2Stream[] = [];
    const { server, port, handlers, conns } = await h2Server(
      { readBudget: budget, initialWindowSize: MiB, connectionWindowSize: MiB, onLimit: (l) => limits.push(l) },
      (h) => { h.keepData = false; h.autoConsume = false; h.onStreamHook = (s) => streams.push(s); },
    );
    const hog = await RawClient.connect(port);
    const other = await RawClient.connect(port);
    try {
      // The hog's stream is never consumed: what it sends is held, until the budget stops reading it.
      void upload(hog, MiB);
      await eventually('the hog was stopped by the budget', () => conns[0]!.counters.readsHeldForBudget === 1, 10_000);
      const held = received(handlers[0]!);
      assert.ok(held > LIMIT && held <= LIMIT + SHARE + READ, `the hog's connection holds ${held} bytes`);
      assert.equal(budget.held, held);
      assert.deepEqual(limits, ['readBudget']);

      // Another connection whose bytes are consumed as they come holds next to nothing, so it is read
      // in full while the budget stays spent.
      handlers[1]!.autoConsume = true;
      await upload(other, MiB);
      await handlers[1]!.wait((e) => e.kind === 'data' && e.endStream);
      assert.equal(received(handlers[1]!), MiB);
      assert.equal(conns[1]!.counters.readsHeldForBudget, 0);
      // The hog was not read meanwhile: its socket is paused, not just slow.
      assert.equal(received(handlers[0]!), held);

      // Its owner takes what it holds: read again, to the end.
      const h = handlers[0]!;
      h.autoConsume = true;
      streams[0]!.consumed(held);
      await h.wait((e) => e.kind === 'data' && e.endStream);
      assert.equal(received(h), MiB);
      assert.equal(budget.held, 0);
    } finally {
      hog.close();
      other.close();
      server.close();
    }
  });

  it('a connection stopped by the budget is read again once others bring the group back under it, and what a closed connection held goes back', { timeout: 20_000 }, async () => {
    const budget = new ReadBudget(LIMIT, SHARE);
    const { server, port, handlers, conns } = await h2Server(
      { readBudget: budget, initialWindowSize: MiB, connectionWindowSize: MiB },
      (h) => { h.keepData = false; h.autoConsume = false; },
    );
    const first = await RawClient.connect(port);
    const second = await RawClient.connect(port);
    try {
      // The first holds nearly the whole budget; the second then passes it and is stopped.
      void upload(first, LIMIT - 4096);
      await eventually('the first connection holds its bytes', () => received(handlers[0]!) === LIMIT - 4096, 10_000);
      void upload(second, MiB);
      await eventually('the second was stopped', () => conns[1]!.counters.readsHeldForBudget === 1, 10_000);
      assert.equal(conns[0]!.counters.readsHeldForBudget, 0, 'the first never passed the budget itself');
      const secondHeld = received(handlers[1]!);
      assert.ok(secondHeld <= 4096 + SHARE + READ, `the second holds ${secondHeld}`);

      // The first goes away: what it held goes back, the group is under the budget, the second is read again.
      first.close();
      await handlers[0]!.wait((e) => e.kind === 'close');
      await eventually('the second was read further', () => received(handlers[1]!) > secondHeld, 10_000);
      assert.ok(budget.held <= LIMIT + SHARE + READ, `the group holds ${budget.held}`);
    } finally {
      first.close();
      second.close();
      // A socket not read sees no FIN: the server side goes by its own hand here (sendTimeoutMs's
      // check does it in the product; see the next test).
      for (const c of conns) c.socket.destroy();
      server.close();
    }
    await handlers[1]!.wait((e) => e.kind === 'close');
    assert.equal(budget.held, 0, 'every byte held went back with the connections');
  });

  it('a connection stopped by the budget, none of whose bytes went on for sendTimeoutMs, loses the streams holding them (CANCEL) and is read again', { timeout: 20_000 }, async () => {
    const clock = new FakeClock(10_000);
    const budget = new ReadBudget(LIMIT, SHARE);
    const limits: H2LimitName[] = [];
    const streams: H2Stream[] = [];
    const { server, port, handlers, conns } = await h2Server(
      { readBudget: budget, initialWindowSize: MiB, connectionWindowSize: MiB, sendTimeoutMs: TIMEOUT, clock, onLimit: (l) => limits.push(l) },
      (h) => { h.keepData = false; h.autoConsume = false; h.onStreamHook = (s) => streams.push(s); },
    );
    const c = await RawClient.connect(port);
    try {
      // Stream 1 holds nothing (no body yet); stream 3 sends more than the budget, and nothing takes it.
      c.request(1, POST, false);
      void upload(c, MiB, 3);
      await eventually('the connection was stopped by the budget', () => conns[0]!.counters.readsHeldForBudget === 1, 10_000);
      const held = received(handlers[0]!, 3);

      // Some of its bytes go on at 600 ms: the clock starts again from there.
      clock.advance(600);
      streams[1]!.consumed(1);
      clock.advance(900); // checks at 1000 and 1500 ms: 400 and 900 ms without progress
      assert.equal(c.rsts().length, 0);
      assert.deepEqual(limits, ['readBudget']);

      clock.advance(500); // the check at 2000 ms: 1400 ms without progress
      const rst = await c.wait((e) => e.kind === 'rst');
      assert.deepEqual({ streamId: (rst as { streamId: number }).streamId, code: (rst as { errorCode: number }).errorCode }, { streamId: 3, code: ErrorCode.CANCEL });
      assert.deepEqual(limits, ['readBudget', 'readBudget']);
      await handlers[0]!.wait((e) => e.kind === 'reset' && e.id === 3 && e.code === ErrorCode.CANCEL);
      // What stream 3 held went back: the rest of its body, now read, is dropped with its window returned.
      assert.equal(budget.held, 0);
      await eventually('the connection was read again', () => conns[0]!.counters.dataBytesReceived > held, 10_000);

      // Stream 1 was not touched: it still takes a body, and its owner gets it.
      handlers[0]!.autoConsume = true;
      c.writer.data(1, Buffer.from('tail'), true);
      c.send();
      await handlers[0]!.wait((e) => e.kind === 'data' && e.id === 1 && e.endStream);
      assert.equal(c.rsts().length, 1);
    } finally {
      c.close();
      server.close();
    }
    await handlers[0]!.wait((e) => e.kind === 'close');
  });

  it('answers waiting in client sockets count too: past the budget, a client that does not read its answers holds no more than its share, and a client that reads is still served', { timeout: 30_000 }, async () => {
    const LIMIT_OUT = MiB;
    const budget = new ReadBudget(LIMIT_OUT, SHARE);
    const limits: H2LimitName[] = [];
    const chunk = Buffer.alloc(64 * 1024, 5);
    // Each stream is answered with `bytes` of DATA, fed as the engine takes it.
    const answer = (s: H2Stream, bytes: number): void => {
      s.sendHeaders([[':status', '200']], false);
      let left = bytes;
      const feed = (): void => {
        while (left > 0 && !s.closed) {
          left -= chunk.length;
          if (!s.write(chunk, left <= 0)) return;
        }
      };
      feed();
      drains.set(s, feed);
    };
    const drains = new Map<H2Stream, () => void>();
    const { server, port, conns } = await h2Server({ readBudget: budget, maxQueuedBytes: 4 * MiB, onLimit: (l) => limits.push(l) }, (h) => {
      h.keepData = false;
      h.onStreamHook = (s, headers) => answer(s, Number(headers.toArray().find(([n]) => n === 'x-bytes')![1]));
      h.onDrainHook = (s) => drains.get(s)?.();
    });
    const wide = [{ id: SettingId.INITIAL_WINDOW_SIZE, value: 2 ** 31 - 1 }];
    const request = (bytes: number): [string, string][] => [...POST, ['x-bytes', String(bytes)]];
    const connect = async (): Promise<RawClient> => {
      const c = await RawClient.connect(port, wide);
      c.writer.windowUpdate(0, 2 ** 31 - 1 - 65_535);
      return c;
    };
    // Two clients that ask for 64 MiB each and read none of it: the kernel's buffers fill first,
    // then the sockets'.
    const first = await connect();
    const second = await connect();
    const reader = await connect();
    try {
      first.socket.pause();
      first.request(1, request(64 * MiB), true);
      first.send();
      await eventually('the first client\'s socket passed the budget', () => budget.held > LIMIT_OUT, 20_000);
      second.socket.pause();
      second.request(1, request(64 * MiB), true);
      second.send();
      await eventually('the second client is not read for a full socket', () => conns[1]!.counters.readsHeld === 1, 20_000);
      assert.ok(limits.includes('readBudget'), limits.join());
      // It holds its share and one tick's frames at most, not maxQueuedBytes (4 MiB).
      const held = conns[1]!.socket.writableLength;
      assert.ok(held > SHARE && held <= SHARE + 128 * 1024, `the second client's socket holds ${held} bytes`);

      // A client that reads gets its whole answer, a share at a time while the budget is spent.
      reader.request(1, request(4 * MiB), true);
      reader.send();
      await reader.wait((e) => e.kind === 'data' && e.streamId === 1 && e.endStream);
      assert.ok(budget.held > LIMIT_OUT, 'the budget stayed spent meanwhile');
    } finally {
      for (const c of [first, second, reader]) c.close();
      for (const c of conns) c.socket.destroy();
      server.close();
    }
    await eventually('every byte held went back with the connections', () => budget.held === 0, 10_000);
  });

  it('a client cannot escape the budget by keeping one answer behind a shut window; only a stream holding request bytes exempts it', { timeout: 20_000 }, async () => {
    const budget = new ReadBudget(LIMIT, SHARE);
    const { server, port, handlers, conns } = await h2Server({ readBudget: budget, initialWindowSize: MiB, connectionWindowSize: MiB }, (h) => {
      h.keepData = false;
      h.autoConsume = false;
      // Stream 1 is answered with DATA its shut window keeps queued; stream 3's request is never taken.
      h.onStreamHook = (s) => {
        if (s.id !== 1) return;
        s.sendHeaders([[':status', '200']], false);
        s.write(Buffer.alloc(1024, 1), false);
      };
    });
    const c = await RawClient.connect(port, [{ id: SettingId.INITIAL_WINDOW_SIZE, value: 0 }]);
    try {
      c.request(1, RawClient.GET, true);
      c.send();
      await c.wait((e) => e.kind === 'headers');
      void upload(c, MiB, 3);
      await eventually('the connection was stopped by the budget', () => conns[0]!.counters.readsHeldForBudget === 1, 10_000);
      assert.ok(received(handlers[0]!, 3) <= LIMIT + SHARE + READ);
    } finally {
      c.close();
      for (const x of conns) x.socket.destroy();
      server.close();
    }
  });
});
