// Property tests: whatever a peer sends after a valid opening, the reader only
// reports errors (never throws), holds at most one frame (max frame size + 9
// octets), never delivers a field block above its limit, and reads the same
// frames however the bytes are chunked.

import { it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FrameReader, FrameType, type FrameReaderOptions } from '../../src/h2/frames.js';
import { SharedReads } from '../../src/h2/shared-reads.js';
import { unpinned } from '../../src/h2/small-chunks.js';
import { OPENING, Recorder, rawFrame } from './frames-helpers.js';

const OPTIONS: FrameReaderOptions = { maxHeaderBlockSize: 200, maxContinuationFrames: 3 };
const MAX_FRAME = 16_384;

/** Feed opening + body in the given chunk sizes, checking invariants after every push. */
function run(body: Buffer, sizes: number[]): { rec: Recorder; trace: string } {
  const rec = new Recorder();
  const reader = new FrameReader(rec, OPTIONS);
  reader.push(OPENING);
  rec.events = [];
  let off = 0;
  let i = 0;
  let eventsAtFailure = -1;
  while (off < body.length) {
    const size = sizes.length === 0 ? body.length : Math.max(1, sizes[i++ % sizes.length]!);
    const ok = reader.push(body.subarray(off, off + size)); // must not throw
    off += size;
    assert.ok(reader.pendingFrameBytes <= MAX_FRAME + 9, `pending ${reader.pendingFrameBytes}`);
    assert.ok(reader.pendingHeaderBlockBytes <= OPTIONS.maxHeaderBlockSize!);
    if (!ok) {
      if (eventsAtFailure < 0) eventsAtFailure = rec.events.length;
      assert.equal(rec.events.length, eventsAtFailure, 'no frames after a connection error');
    }
  }
  assert.ok(rec.maxBlock <= OPTIONS.maxHeaderBlockSize!, `block ${rec.maxBlock}`);
  assert.ok(rec.connectionErrors.length <= 1);
  const trace = JSON.stringify([rec.events, rec.streamErrors.map((e) => e.message), rec.connectionErrors.map((e) => e.message)]);
  return { rec, trace };
}

const chunkSizes = fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 8 });

it('arbitrary bytes after a valid opening: errors are reported, never thrown; buffers stay bounded', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 2_000 }), chunkSizes, (bytes, sizes) => {
      run(Buffer.from(bytes), sizes);
    }),
    { numRuns: 300 },
  );
});

/** Frames with plausible headers: types 0..10 (10 is unknown), any flags, small stream ids, payload lengths near the valid ones. */
const frameArb = fc
  .record({
    type: fc.integer({ min: 0, max: 10 }),
    flags: fc.oneof(fc.constantFrom(0, 1, 4, 5, 8, 0x20, 0x2d), fc.integer({ min: 0, max: 255 })),
    streamId: fc.oneof(fc.constantFrom(0, 1, 3), fc.integer({ min: 0, max: 2 ** 32 - 1 })),
    payload: fc.oneof(
      fc.uint8Array({ maxLength: 12 }),
      fc.uint8Array({ minLength: 0, maxLength: 120 }),
      fc.constantFrom(new Uint8Array(0), new Uint8Array(4), new Uint8Array(5), new Uint8Array(6), new Uint8Array(8)),
    ),
  })
  .map(({ type, flags, streamId, payload }) => rawFrame(type, flags, streamId, Buffer.from(payload)));

it('structured frame sequences: same result under any chunking, invariants hold', () => {
  fc.assert(
    fc.property(fc.array(frameArb, { maxLength: 30 }), chunkSizes, (frames, sizes) => {
      const body = Buffer.concat(frames);
      const whole = run(body, []);
      const chunked = run(body, sizes);
      assert.equal(chunked.trace, whole.trace);
    }),
    { numRuns: 300 },
  );
});

it('oversized frame lengths are rejected or skipped without buffering', () => {
  fc.assert(
    fc.property(fc.integer({ min: MAX_FRAME + 1, max: 2 ** 24 - 1 }), fc.integer({ min: 0, max: 10 }), fc.integer({ min: 0, max: 5 }), (length, type, streamId) => {
      const header = Buffer.alloc(9);
      header.writeUIntBE(length, 0, 3);
      header[3] = type;
      header.writeUInt32BE(streamId, 5);
      const { rec } = run(Buffer.concat([header, Buffer.alloc(3_000)]), [700]);
      assert.equal(rec.events.length, 0);
      assert.equal(rec.connectionErrors.length + rec.streamErrors.length, 1);
    }),
    { numRuns: 100 },
  );
});

/** Keeps each DATA payload as delivered (the Buffer itself), beside its bytes at delivery. */
/** Keeps every DATA payload as the data plane does: through `unpinned`, which copies shared reads. */
class KeepingRecorder extends Recorder {
  kept: { data: Buffer; atDelivery: string }[] = [];
  override onData(streamId: number, endStream: boolean, data: Buffer, flowControlLength: number): void {
    super.onData(streamId, endStream, data, flowControlLength);
    this.kept.push({ data: unpinned(data), atDelivery: data.toString('hex') });
  }
}

const dataFrameArb = fc
  .record({ flags: fc.constantFrom(0, 1, 8, 9), payload: fc.uint8Array({ minLength: 1, maxLength: 3_000 }) })
  .map(({ flags, payload }) => rawFrame(FrameType.DATA, flags, 1, (flags & 8) !== 0 ? Buffer.concat([Buffer.from([2]), Buffer.from(payload), Buffer.alloc(2)]) : Buffer.from(payload)));

it('transient chunks (SharedReads): DATA kept through unpinned stays intact after the read buffer is reused', () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(dataFrameArb, frameArb), { maxLength: 20 }), chunkSizes, fc.integer({ min: 1, max: 4_000 }), (frames, sizes, scale) => {
      const body = Buffer.concat(frames);
      const plain = run(body, sizes.map((s) => s * scale));
      const rec = new KeepingRecorder();
      const reader = new FrameReader(rec, { ...OPTIONS, transientChunks: true });
      reader.push(OPENING);
      rec.events = [];
      const shared = new SharedReads().onread.buffer as Buffer; // the buffer itself: unpinned knows it
      let i = 0;
      for (let off = 0; off < body.length; ) {
        const size = Math.min(shared.length, sizes.length === 0 ? body.length : Math.max(1, sizes[i++ % sizes.length]! * scale));
        const n = body.copy(shared, 0, off, off + size);
        reader.push(shared.subarray(0, n));
        shared.fill(0xee); // the next read overwrites it
        off += n;
      }
      for (const k of rec.kept) assert.equal(k.data.toString('hex'), k.atDelivery);
      assert.equal(JSON.stringify([rec.events, rec.streamErrors.map((e) => e.message), rec.connectionErrors.map((e) => e.message)]), plain.trace);
    }),
    { numRuns: 200 },
  );
});
