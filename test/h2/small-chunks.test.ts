import { test } from 'node:test';
import assert from 'node:assert/strict';
import { COPY_SLAB_SIZE, PayloadCopies, SMALL_CHUNK, SmallChunks, unpinned } from '../../src/h2/small-chunks.js';
import { h2Server, RawClient } from './connection-helpers.js';
import { FrameType, SettingId } from '../../src/h2/frames.js';
import { rawFrame } from './frames-helpers.js';
import { SharedReads } from '../../src/h2/shared-reads.js';
import type { H2Stream } from '../../src/h2/stream.js';

test('small chunks are coalesced into slab views; views handed out stay valid; large chunks are kept as they are', () => {
  const list: Buffer[] = [];
  const small = new SmallChunks();
  for (let i = 0; i < 10_000; i++) small.append(list, Buffer.from([i & 0xff]));
  assert.ok(list.length <= 3, `${list.length} buffers for 10,000 one-byte chunks`);
  const first = list[0]!;
  const copy = Buffer.from(first);
  const big = Buffer.alloc(SMALL_CHUNK, 7);
  small.append(list, big);
  small.append(list, Buffer.from('tail'));
  assert.equal(list[list.length - 2], big, 'a large chunk is kept by reference');
  assert.equal(list[list.length - 1]!.toString(), 'tail', 'after a large chunk, a new view starts');
  assert.deepEqual(first, copy, 'bytes already handed out are never written again');
  const all = Buffer.concat(list);
  assert.equal(all.length, 10_000 + SMALL_CHUNK + 4);
  for (let i = 0; i < 10_000; i++) assert.equal(all[i], i & 0xff);
});

test('DATA written one byte at a time behind a shut window is queued as a few buffers, and arrives whole and in order', { timeout: 10_000 }, async () => {
  let stream!: H2Stream;
  const { server, port } = await h2Server({}, (h) => {
    h.onStreamHook = (s) => {
      stream = s;
      s.sendHeaders([[':status', '200']], false);
      for (let i = 0; i < 20_000; i++) s.write(Buffer.from([i & 0xff]), i === 19_999);
    };
  });
  const c = await RawClient.connect(port, [{ id: SettingId.INITIAL_WINDOW_SIZE, value: 0 }]);
  try {
    c.request(1, RawClient.GET, true);
    c.send();
    await c.wait((e) => e.kind === 'headers');
    assert.equal(stream.queuedBytes, 20_000);
    assert.ok(stream.queue.length <= 6, `${stream.queue.length} buffers queued for 20,000 one-byte writes`);
    c.writer.windowUpdate(1, 20_000);
    c.send();
    await c.wait((e) => e.kind === 'data' && (e as { endStream: boolean }).endStream);
    const got = Buffer.from(c.events.filter((e) => e.kind === 'data').map((e) => (e as { data: string }).data).join(''), 'hex');
    assert.equal(got.length, 20_000);
    for (let i = 0; i < 20_000; i++) assert.equal(got[i], i & 0xff);
  } finally {
    c.close();
    server.close();
  }
});

test('a kept chunk that is a small part of its buffer is copied into a buffer of its own; one that is most of it is kept as it is', () => {
  const read = Buffer.alloc(64 * 1024, 1);
  const list: Buffer[] = [];
  const small = new SmallChunks();
  for (let off = 0; off < read.length; off += 16 * 1024) small.append(list, read.subarray(off, off + 16 * 1024));
  assert.equal(list.length, 4);
  for (const b of list) assert.equal(b.buffer.byteLength, 16 * 1024, 'a quarter of its read is copied');
  assert.deepEqual(Buffer.concat(list), read);
  const most = read.subarray(0, 40_000);
  assert.equal(unpinned(most), most, 'more than half of its buffer: kept by reference');
  // A unary call's message: not copied for what it could save. The reader's own copy, on a slab
  // every small copy shares; or a view of a small read.
  const copies = new PayloadCopies();
  const copied = copies.copy(read, 100, 300);
  assert.equal(copied.buffer.byteLength, COPY_SLAB_SIZE);
  assert.equal(copies.copy(read, 0, 100).buffer, copied.buffer, 'small copies share a slab');
  assert.equal(unpinned(copied), copied);
  const view = Buffer.alloc(600, 1).subarray(400);
  assert.equal(unpinned(view), view);
  // Not Node's own pool: from Node 24 a block is 64 KiB, which one small payload kept would pin.
  const pooled = Buffer.from('abc');
  assert.equal(unpinned(pooled) === pooled, pooled.buffer.byteLength <= COPY_SLAB_SIZE);
  // A small part of a large buffer not from the pool is copied.
  assert.equal(unpinned(read.subarray(0, 100)).buffer.byteLength, 100);
});

test('DATA kept in a send queue holds at most twice its bytes, though each payload came as a quarter of a 64 KiB socket read', { timeout: 10_000 }, async () => {
  let stream!: H2Stream;
  let arrived: () => void = () => {};
  const { server, port } = await h2Server({ initialWindowSize: 1 << 20, connectionWindowSize: 1 << 20 }, (h) => {
    h.keepData = false;
    h.onStreamHook = (s) => {
      stream = s;
      s.sendHeaders([[':status', '200']], false);
    };
    // Echoed to a client that opened no window for it: every payload stays in the queue.
    h.onDataHook = (s, d) => {
      s.write(d, false);
      arrived();
    };
  });
  const c = await RawClient.connect(port, [{ id: SettingId.INITIAL_WINDOW_SIZE, value: 0 }]);
  try {
    c.request(1, RawClient.GET, false);
    c.send();
    await c.wait((e) => e.kind === 'headers');
    // Each write is one read for the server: 16 KiB of DATA, then 48 KiB of unknown frames it skips.
    const filler = Buffer.concat([0, 1, 2].map(() => rawFrame(0x20, 0, 0, Buffer.alloc(16_372))));
    const FRAMES = 8;
    for (let i = 0; i < FRAMES; i++) {
      const seen = new Promise<void>((resolve) => (arrived = resolve));
      c.send(rawFrame(FrameType.DATA, 0, 1, Buffer.alloc(16_384, i)), filler);
      await seen;
    }
    assert.equal(stream.queuedBytes, FRAMES * 16_384);
    const kept = [...new Set(stream.queue.map((b) => b.buffer))].reduce((sum, ab) => sum + ab.byteLength, 0);
    assert.ok(kept <= 2 * stream.queuedBytes, `${kept} bytes of buffers kept for ${stream.queuedBytes} bytes queued`);
    const queued = Buffer.concat(stream.queue as Buffer[]);
    for (let i = 0; i < FRAMES; i++) assert.ok(queued.subarray(i * 16_384, (i + 1) * 16_384).every((x) => x === i));
  } finally {
    c.close();
    server.close();
  }
});

test('unpinned copies a view of the shared read buffer whatever its size: the next read overwrites it', () => {
  const shared = new SharedReads().onread.buffer as Buffer;
  shared.fill(0x61);
  const most = shared.subarray(0, shared.length - 100); // more than half: not copied for its size alone
  const kept = unpinned(most);
  assert.notEqual(kept.buffer, shared.buffer);
  shared.fill(0xee);
  assert.ok(kept.every((b) => b === 0x61));
  const own = Buffer.allocUnsafeSlow(60_000);
  assert.equal(unpinned(own.subarray(0, 50_000)).buffer, own.buffer, 'a buffer of its own mostly used is kept as it is');
});
