import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendQueueCopy, isQueueCopy, queueCopySlabs, releaseQueueCopy } from '../../src/h2/queue-copies.js';
import { DATA_SLAB_SIZE, freeDataSlabs } from '../../src/h2/data-slabs.js';
import { SharedReads } from '../../src/h2/shared-reads.js';
import { FrameWriter } from '../../src/h2/frames.js';
import { FrameType, SettingId } from '../../src/h2/frames.js';
import { h2Server, RawClient } from './connection-helpers.js';
import { rawFrame } from './frames-helpers.js';
import type { H2Stream } from '../../src/h2/stream.js';

// The process's queue copies are shared by every test here: each test releases what it made.
const shared = new SharedReads().onread.buffer as Buffer;
const read = (n: number, byte: number): Buffer => shared.fill(byte, 0, n).subarray(0, n);

test('a queued shared read is copied onto a slab other copies share, survives the next read, and the slab goes back to the pool once every copy on it is released', () => {
  const list = appendQueueCopy(null, read(10_000, 0x61));
  appendQueueCopy(list, read(20_000, 0x62));
  shared.fill(0xee);
  assert.equal(list.length, 2);
  assert.ok(list[0]!.length === 10_000 && list[0]!.every((b) => b === 0x61));
  assert.ok(list[1]!.length === 20_000 && list[1]!.every((b) => b === 0x62));
  assert.equal(list[0]!.buffer, list[1]!.buffer, 'one slab');
  assert.ok(isQueueCopy(list[0]!) && isQueueCopy(list[1]!.subarray(5, 10)));
  assert.deepEqual(queueCopySlabs().slabs, 1);
  assert.equal(queueCopySlabs().liveBytes, 30_000);
  const free = freeDataSlabs();
  releaseQueueCopy(list[0]!);
  assert.equal(queueCopySlabs().slabs, 1, 'a copy on it is still queued');
  releaseQueueCopy(list[1]!);
  assert.deepEqual([queueCopySlabs().slabs, queueCopySlabs().liveBytes], [0, 0]);
  assert.equal(freeDataSlabs(), Math.min(free + 1, 8), 'back in the pool');
  assert.equal(isQueueCopy(list[0]!), false);
});

test('a copy that does not fit the rest of a slab goes whole on the next one', () => {
  const list = appendQueueCopy(null, read(40_000, 1));
  appendQueueCopy(list, read(30_000, 2));
  assert.equal(list.length, 2);
  assert.notEqual(list[0]!.buffer, list[1]!.buffer);
  assert.equal(list[1]!.length, 30_000);
  assert.equal(queueCopySlabs().slabs, 2);
  for (const b of list) releaseQueueCopy(b);
  assert.deepEqual([queueCopySlabs().slabs, queueCopySlabs().liveBytes], [0, 0]);
});

test('copies left waiting cannot make the slabs hold more than twice what is queued plus four slabs: past that a copy gets a buffer of its own', () => {
  // Each round leaves a 1 KiB copy waiting on a slab the rest of which went out: the pattern of a
  // stalled stream among busy ones.
  const waiting: Buffer[] = [];
  const own: Buffer[] = [];
  for (let i = 0; i < 40; i++) {
    const [small] = appendQueueCopy(null, read(1024, i));
    const [big] = appendQueueCopy(null, read(DATA_SLAB_SIZE - 1024, i));
    if (isQueueCopy(small!)) waiting.push(small!); else own.push(small!);
    releaseQueueCopy(big!);
    const { slabs, liveBytes } = queueCopySlabs();
    assert.ok(slabs * DATA_SLAB_SIZE <= 2 * liveBytes + 4 * DATA_SLAB_SIZE, `round ${i}: ${slabs} slabs for ${liveBytes} bytes queued`);
  }
  assert.ok(waiting.length >= 4 && waiting.length <= 5, `${waiting.length} copies on slabs`);
  assert.ok(own.length >= 35, 'the rest in buffers of their own');
  own.forEach((b, i) => assert.ok(b.every((x) => x === (waiting.length + i) % 256)));
  for (const b of [...waiting, ...own]) releaseQueueCopy(b);
  assert.deepEqual([queueCopySlabs().slabs, queueCopySlabs().liveBytes], [0, 0]);
});

test('the frame writer copies a queue copy: its slab may be reused once the stream has dequeued it', () => {
  const [copy] = appendQueueCopy(null, read(9_000, 0x33));
  const w = new FrameWriter();
  w.data(1, copy!, false);
  releaseQueueCopy(copy!);
  copy!.fill(0); // what a reuse of the slab would do
  const out = Buffer.concat(w.flush());
  assert.equal(out.length, 9 + 9_000);
  assert.ok(out.subarray(9).every((b) => b === 0x33));
  w.rewind();
});

test('a stream reset with copies queued releases them, and its slab goes back', { timeout: 10_000 }, async () => {
  const before = queueCopySlabs().made;
  let stream!: H2Stream;
  const { server, port, next } = await h2Server({ initialWindowSize: 1 << 20, connectionWindowSize: 1 << 20 }, (h) => {
    h.keepData = false;
    h.onStreamHook = (s) => {
      stream = s;
      s.sendHeaders([[':status', '200']], false);
    };
    // Echoed to a client that opened no window for it: every payload stays in the queue.
    h.onDataHook = (s, d) => void s.write(d, false);
  }, true);
  const c = await RawClient.connect(port, [{ id: SettingId.INITIAL_WINDOW_SIZE, value: 0 }]);
  try {
    c.request(1, RawClient.GET, false);
    c.send();
    await c.wait((e) => e.kind === 'headers');
    const h = await next();
    for (let i = 0; i < 4; i++) c.send(rawFrame(FrameType.DATA, 0, 1, Buffer.alloc(16_384, i)));
    await h.wait((e) => e.kind === 'data' && (h.events.filter((x) => x.kind === 'data').length === 4));
    assert.equal(stream.queuedBytes, 4 * 16_384);
    assert.ok(stream.queue.every(isQueueCopy), 'queued as copies on slabs');
    assert.ok(queueCopySlabs().made >= before + 4);
    assert.equal(queueCopySlabs().liveBytes, 4 * 16_384);
    c.send(rawFrame(FrameType.RST_STREAM, 0, 1, Buffer.from([0, 0, 0, 8])));
    await h.wait((e) => e.kind === 'close-stream' && e.id === 1);
    assert.deepEqual([queueCopySlabs().slabs, queueCopySlabs().liveBytes], [0, 0]);
  } finally {
    c.close();
    server.close();
  }
});
