import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SMALL_CHUNK, SmallChunks } from '../../src/h2/small-chunks.js';
import { h2Server, RawClient } from './connection-helpers.js';
import { SettingId } from '../../src/h2/frames.js';
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
