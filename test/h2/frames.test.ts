// Frame codec: writer → reader round trips under every chunking, and one test per
// validation rule with exact bytes (RFC 9113 §3.4, §4.2, §6).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  CLIENT_PREFACE, ErrorCode, Flag, FrameReader, FrameType, FrameWriter, H2ConnectionError, H2StreamError,
  SettingId, errorCodeName, frameTypeName, type H2ErrorReason,
} from '../../src/h2/frames.js';
import { DATA_SLAB_SIZE, freeDataSlabs } from '../../src/h2/data-slabs.js';
import { SharedReads, isSharedRead } from '../../src/h2/shared-reads.js';
import { OPENING, Recorder, feedSplit, frameHeader, hex, openedReader, rawFrame, type Event } from './frames-helpers.js';

// --- Round trips -----------------------------------------------------------------

/** A client-role stream exercising every frame type, and what the reader must deliver. */
function everyFrame(): { bytes: Buffer; expected: Event[] } {
  const w = new FrameWriter();
  const expected: Event[] = [];
  w.settings([{ id: SettingId.MAX_CONCURRENT_STREAMS, value: 100 }, { id: SettingId.INITIAL_WINDOW_SIZE, value: 1 << 20 }]);
  expected.push({ kind: 'settings', settings: [{ id: 3, value: 100 }, { id: 4, value: 1 << 20 }] });
  w.settingsAck();
  expected.push({ kind: 'settings-ack' });
  w.headers(1, Buffer.from('opaque-hpack-block'), false);
  expected.push({ kind: 'headers', streamId: 1, endStream: false, block: hex('opaque-hpack-block') });
  // A block bigger than one frame: HEADERS + 2 CONTINUATIONs, reassembled.
  const big = Buffer.alloc(16_384 * 2 + 100, 0x61);
  w.headers(3, big, true);
  expected.push({ kind: 'headers', streamId: 3, endStream: true, block: big.toString('hex') });
  w.data(1, Buffer.from('hi'), false);
  expected.push({ kind: 'data', streamId: 1, endStream: false, data: hex('hi'), flowControlLength: 2 });
  const large = Buffer.alloc(20_000, 0x62); // by reference, split at 16384
  w.data(1, large, true);
  expected.push({ kind: 'data', streamId: 1, endStream: false, data: '62'.repeat(16_384), flowControlLength: 16_384 });
  expected.push({ kind: 'data', streamId: 1, endStream: true, data: '62'.repeat(20_000 - 16_384), flowControlLength: 20_000 - 16_384 });
  w.data(5, Buffer.alloc(0), true);
  expected.push({ kind: 'data', streamId: 5, endStream: true, data: '', flowControlLength: 0 });
  w.rstStream(5, ErrorCode.CANCEL);
  expected.push({ kind: 'rst', streamId: 5, errorCode: 8 });
  w.ping(Buffer.from('01234567'), false);
  expected.push({ kind: 'ping', ack: false, opaque: hex('01234567') });
  w.ping(Buffer.from('abcdefgh'), true);
  expected.push({ kind: 'ping', ack: true, opaque: hex('abcdefgh') });
  w.windowUpdate(0, 1 << 30);
  expected.push({ kind: 'window-update', streamId: 0, increment: 1 << 30 });
  w.windowUpdate(7, 0x7fff_ffff);
  expected.push({ kind: 'window-update', streamId: 7, increment: 0x7fff_ffff });
  w.goaway(7, ErrorCode.ENHANCE_YOUR_CALM, 'bye');
  expected.push({ kind: 'goaway', lastStreamId: 7, errorCode: 0xb, debug: hex('bye') });
  const written = Buffer.concat(w.flush());
  // Frames the writer never sends, built by hand.
  const raw = Buffer.concat([
    // PRIORITY: exclusive, depends on 3, wire weight 15 → weight 16.
    rawFrame(FrameType.PRIORITY, 0, 9, [0x80, 0, 0, 3, 15]),
    // PUSH_PROMISE (padded, split by a CONTINUATION).
    rawFrame(FrameType.PUSH_PROMISE, Flag.PADDED, 1, [2, 0, 0, 0, 2, 0x0a, 0x0b, 0, 0]),
    rawFrame(FrameType.CONTINUATION, Flag.END_HEADERS, 1, [0x0c]),
    // Padded HEADERS with priority fields, whose fields are skipped.
    rawFrame(FrameType.HEADERS, Flag.PADDED | Flag.PRIORITY | Flag.END_HEADERS | Flag.END_STREAM, 9, [1, 0, 0, 0, 0, 16, 0xaa, 0]),
    // Padded DATA: flow control counts 1 + 2 + 3 octets.
    rawFrame(FrameType.DATA, Flag.PADDED, 9, [3, 0x68, 0x69, 0, 0, 0]),
    // Unknown type 0x2a with unknown flags: delivered to onUnknownFrame, otherwise ignored.
    rawFrame(0x2a, 0xff, 9, [1, 2, 3]),
    // Reserved bit set on a stream id is ignored (§4.1).
    rawFrame(FrameType.RST_STREAM, 0, 0x8000_0009, [0, 0, 0, 1]),
  ]);
  expected.push(
    { kind: 'priority', streamId: 9, dependency: 3, exclusive: true, weight: 16 },
    { kind: 'push-promise', streamId: 1, promisedStreamId: 2, block: '0a0b0c' },
    { kind: 'headers', streamId: 9, endStream: true, block: 'aa' },
    { kind: 'data', streamId: 9, endStream: false, data: hex('hi'), flowControlLength: 6 },
    { kind: 'unknown', type: 0x2a, flags: 0xff, streamId: 9, payload: '010203' },
    { kind: 'rst', streamId: 9, errorCode: 1 },
  );
  return { bytes: Buffer.concat([written, raw]), expected };
}

function readAll(bytes: Buffer, cuts: number[]): Recorder {
  const rec = new Recorder();
  const reader = new FrameReader(rec, { role: 'client' });
  feedSplit(reader, bytes, cuts);
  return rec;
}

describe('round trip writer → reader', () => {
  const { bytes, expected } = everyFrame();

  it('in one chunk', () => {
    const rec = readAll(bytes, []);
    assert.deepEqual(rec.connectionErrors, []);
    assert.deepEqual(rec.streamErrors, []);
    assert.deepEqual(rec.events, expected);
  });

  it('byte by byte', () => {
    const rec = readAll(bytes, Array.from({ length: bytes.length }, (_, i) => i));
    assert.deepEqual(rec.connectionErrors, []);
    assert.deepEqual(rec.events, expected);
  });

  it('in random chunkings', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 40 }), (cuts) => {
        const rec = readAll(bytes, cuts);
        assert.deepEqual(rec.connectionErrors, []);
        assert.deepEqual(rec.events, expected);
      }),
      { numRuns: 100 },
    );
  });

  it('server role: preface split anywhere, then frames', () => {
    const w = new FrameWriter();
    w.settings([]);
    w.headers(1, Buffer.from([0x82, 0x86]), true);
    const stream = Buffer.concat([CLIENT_PREFACE, ...w.flush()]);
    for (let cut = 0; cut < stream.length; cut++) {
      const rec = new Recorder();
      const reader = new FrameReader(rec);
      feedSplit(reader, stream, [cut]);
      assert.deepEqual(rec.connectionErrors, []);
      assert.deepEqual(rec.events, [
        { kind: 'settings', settings: [] },
        { kind: 'headers', streamId: 1, endStream: true, block: '8286' },
      ]);
    }
  });

  it('delivers payloads of a frame inside one chunk without copying', () => {
    let seen: Buffer | undefined;
    const rec2 = new Recorder();
    rec2.onData = (_s, _e, data) => { seen = data; };
    const r2 = new FrameReader(rec2, { role: 'client' });
    r2.push(rawFrame(FrameType.SETTINGS, 0, 0));
    const chunk = rawFrame(FrameType.DATA, 0, 1, [1, 2, 3]);
    r2.push(chunk);
    assert.ok(seen);
    assert.equal(seen.buffer, chunk.buffer, 'DATA payload is a view of the input chunk');
    assert.equal(seen.byteOffset, chunk.byteOffset + 9);
  });
});

describe('FrameWriter', () => {
  it('batches small frames into one buffer and passes large DATA by reference', () => {
    const w = new FrameWriter();
    w.settingsAck();
    w.windowUpdate(0, 1000);
    w.headers(1, Buffer.from([0x82]), false);
    const payload = Buffer.alloc(4096, 1);
    w.data(1, payload, true);
    w.ping(Buffer.alloc(8), true);
    const out = w.flush();
    assert.equal(out.length, 3, 'slab segment, DATA payload, slab segment');
    assert.equal(out[1], payload, 'payload passed by reference');
    assert.equal(out[0]!.length, 9 + 13 + 10 + 9, 'SETTINGS ACK + WINDOW_UPDATE + HEADERS + DATA header');
    assert.equal(w.pendingBytes, 0);
    assert.deepEqual(w.flush(), []);
  });

  it('splits a field block by the peer max frame size with END_HEADERS on the last frame only', () => {
    const w = new FrameWriter();
    w.setMaxFrameSize(20_000);
    const block = Buffer.alloc(45_000, 7);
    w.headers(3, block, true);
    const bytes = Buffer.concat(w.flush());
    const frames: Array<[number, number, number]> = [];
    for (let off = 0; off < bytes.length;) {
      const len = bytes.readUIntBE(off, 3);
      frames.push([len, bytes[off + 3]!, bytes[off + 4]!]);
      off += 9 + len;
    }
    assert.deepEqual(frames, [
      [20_000, FrameType.HEADERS, Flag.END_STREAM],
      [20_000, FrameType.CONTINUATION, 0],
      [5_000, FrameType.CONTINUATION, Flag.END_HEADERS],
    ]);
  });

  it('never rewrites bytes already handed out', () => {
    const w = new FrameWriter({ slabSize: 64 });
    w.ping(Buffer.from('AAAAAAAA'), false);
    const first = w.flush();
    const snapshot = Buffer.concat(first).toString('hex');
    for (let i = 0; i < 20; i++) w.ping(Buffer.from('BBBBBBBB'), false);
    w.flush();
    assert.equal(Buffer.concat(first).toString('hex'), snapshot);
  });

  it('starts with a small slab and doubles it when a tick needs more, up to slabSize', () => {
    const w = new FrameWriter({ slabSize: 2048 });
    w.ping(Buffer.alloc(8), false);
    assert.equal(w.flush()[0]!.buffer.byteLength, 512, 'an idle connection holds 512 octets, not 16 KiB');
    for (let i = 0; i < 40; i++) w.ping(Buffer.alloc(8), true); // 680 octets in one tick
    const sizes = w.flush().map((b) => b.buffer.byteLength);
    assert.deepEqual(sizes, [512, 1024]);
    for (let i = 0; i < 200; i++) w.ping(Buffer.alloc(8), true); // 3,400 octets
    assert.deepEqual([...new Set(w.flush().map((b) => b.buffer.byteLength))], [1024, 2048], 'never above slabSize');
  });

  it('rewind(): once the owner says the socket let go of everything, the slab is written from its start', () => {
    const w = new FrameWriter();
    w.ping(Buffer.from('AAAAAAAA'), false);
    const [a] = w.flush();
    w.rewind();
    w.ping(Buffer.from('BBBBBBBB'), false);
    const [b] = w.flush();
    assert.equal(b!.buffer, a!.buffer);
    assert.equal(b!.byteOffset, a!.byteOffset, 'the same octets reused');
    // Not while frames are pending: they would be overwritten.
    w.ping(Buffer.from('CCCCCCCC'), false);
    w.rewind();
    w.ping(Buffer.from('DDDDDDDD'), false);
    const pending = Buffer.concat(w.flush()).toString();
    assert.ok(pending.includes('CCCCCCCC') && pending.includes('DDDDDDDD'));
  });

  it('copies DATA that is a view of the shared read buffer into a pooled slab, in order, and gives the slab back at rewind()', () => {
    const shared = new SharedReads().onread.buffer as Buffer;
    const w = new FrameWriter();
    const own = Buffer.alloc(1000, 0x6f);
    // 40,000 octets of a read: split into 16,384-octet frames, each header beside its payload.
    shared.fill(0x61, 0, 40_000);
    w.headers(1, Buffer.from([0x88]), false);
    w.data(1, shared.subarray(0, 40_000), false);
    w.data(3, own, false); // not a shared read: by reference, after the copies
    shared.fill(0x62, 0, 30_000);
    w.data(1, shared.subarray(0, 30_000), true); // its second frame goes past the first slab's 64 KiB
    shared.fill(0xee); // the next read overwrites it
    const out = w.flush();
    assert.ok(out.includes(own), 'a buffer of its own is still passed by reference');
    const { reader, rec } = openedReader();
    reader.push(Buffer.concat(out));
    const data = rec.events.flatMap((e) => (e.kind === 'data' ? [e] : []));
    assert.deepEqual(data.map((e) => [e.streamId, e.data.length / 2, e.endStream]), [[1, 16_384, false], [1, 16_384, false], [1, 7_232, false], [3, 1_000, false], [1, 16_384, false], [1, 13_616, true]]);
    assert.ok(data.every((e) => /^(61)+$|^(62)+$|^(6f)+$/.test(e.data)), 'the copies hold what was read, not what overwrote it');
    const slabs = new Set(out.filter((b) => b.buffer.byteLength === DATA_SLAB_SIZE).map((b) => b.buffer));
    assert.equal(slabs.size, 2);
    const free = freeDataSlabs();
    w.rewind();
    assert.equal(freeDataSlabs(), free + 2, 'both slabs back in the pool');
    w.data(5, shared.subarray(0, 1000), true);
    const again = w.flush();
    assert.ok(slabs.has(again[0]!.buffer as ArrayBuffer), 'and reused');
    assert.equal(freeDataSlabs(), free + 1);
    // Not while frames are pending.
    w.data(5, shared.subarray(0, 1000), true);
    w.rewind();
    assert.equal(freeDataSlabs(), free + 1);
  });

  it('copied DATA of one stream written back to back goes out as frames up to the max frame size', () => {
    const shared = new SharedReads().onread.buffer as Buffer;
    shared.fill(0x61, 0, 65_536);
    const w = new FrameWriter();
    const framesOf = (out: Buffer[]): Array<[number, number, number]> => {
      const { reader, rec } = openedReader();
      reader.push(Buffer.concat(out));
      return rec.events.flatMap((e) => (e.kind === 'data' ? [[e.streamId, e.data.length / 2, e.endStream ? 1 : 0] as [number, number, number]] : []));
    };
    // The pieces a window or a read cut a message into: 9,000 + 7,384 fill one frame, the rest tops up the next.
    w.data(1, shared.subarray(0, 9_000), false);
    w.data(1, shared.subarray(0, 7_384), false);
    w.data(1, shared.subarray(0, 20_000), false);
    w.data(1, Buffer.from('tail'), false); // small: copied, so it joins too
    w.data(1, Buffer.alloc(0), true); // END_STREAM on the open frame, no empty frame
    assert.deepEqual(framesOf(w.flush()), [[1, 16_384, 0], [1, 16_384, 0], [1, 3_620, 1]]);

    // Anything written between, another stream, a buffer passed by reference, or a flush starts a new frame.
    w.rewind();
    w.data(1, shared.subarray(0, 1_000), false);
    w.windowUpdate(1, 10);
    w.data(1, shared.subarray(0, 1_000), false);
    w.data(3, shared.subarray(0, 1_000), false);
    w.data(3, Buffer.alloc(1_000, 0x6f), false); // by reference: not copied to join a frame
    w.data(3, shared.subarray(0, 1_000), false);
    const first = w.flush();
    w.data(3, shared.subarray(0, 1_000), true);
    const second = w.flush();
    assert.deepEqual(framesOf([...first, ...second]), [[1, 1_000, 0], [1, 1_000, 0], [3, 1_000, 0], [3, 1_000, 0], [3, 1_000, 0], [3, 1_000, 1]]);
    assert.equal(Buffer.concat(first).readUIntBE(0, 3), 1_000, 'bytes already handed out are never rewritten');

    // Never past the peer's max frame size, nor past the end of the slab the frame is in.
    w.rewind();
    w.setMaxFrameSize(40_000);
    w.data(5, shared.subarray(0, 30_000), false);
    w.data(5, shared.subarray(0, 30_000), false);
    w.data(5, shared.subarray(0, 30_000), true);
    const bytes = Buffer.concat(w.flush());
    const sizes: number[] = []; // a reader would refuse frames above 16,384: walk the headers
    for (let off = 0; off < bytes.length; off += 9 + sizes.at(-1)!) sizes.push(bytes.readUIntBE(off, 3));
    assert.equal(sizes.reduce((a, b) => a + b), 90_000);
    assert.ok(sizes.every((n) => n <= 40_000) && sizes.length <= 4, `frames ${sizes.join(', ')}`);
    w.rewind();
  });

  it('a DATA frame split across two shared reads is put together in a pooled slab, delivered as a shared read, and the slab goes back', () => {
    const shared = new SharedReads().onread.buffer as Buffer;
    const seen: { shared: boolean; bytes: string }[] = [];
    const rec = new (class extends Recorder {
      override onData(streamId: number, endStream: boolean, data: Buffer, flowControlLength: number): void {
        super.onData(streamId, endStream, data, flowControlLength);
        seen.push({ shared: isSharedRead(data), bytes: data.toString('latin1') });
      }
    })();
    const reader = new FrameReader(rec, { transientChunks: true });
    reader.push(OPENING);
    const payload = Buffer.from('x'.repeat(6000) + 'y'.repeat(6000), 'latin1');
    const frame = rawFrame(FrameType.DATA, Flag.END_STREAM, 1, payload);
    const free = freeDataSlabs();
    for (const [from, to] of [[0, 5000], [5000, frame.length]] as const) {
      const n = frame.copy(shared, 0, from, to);
      reader.push(shared.subarray(0, n));
      shared.fill(0xee); // the next read overwrites it
    }
    assert.deepEqual(seen, [{ shared: true, bytes: payload.toString('latin1') }], 'whole, and to be copied where it is kept');
    assert.equal(freeDataSlabs(), Math.max(free, 1), 'the slab is back in the pool');
    assert.equal(isSharedRead(Buffer.alloc(1)), false);
  });

  it('a DATA frame cut off by close() gives its pooled slab back', () => {
    const shared = new SharedReads().onread.buffer as Buffer;
    const reader = new FrameReader(new Recorder(), { transientChunks: true });
    reader.push(OPENING);
    const frame = rawFrame(FrameType.DATA, 0, 1, Buffer.alloc(12_000, 0x61));
    const free = freeDataSlabs();
    reader.push(shared.subarray(0, frame.copy(shared, 0, 0, 5000)));
    assert.equal(freeDataSlabs(), Math.max(free - 1, 0), 'the half frame holds a slab');
    reader.close();
    assert.equal(freeDataSlabs(), Math.max(free, 1), 'and gives it back');
  });

  it('cuts GOAWAY debug data to fit one frame', () => {
    const w = new FrameWriter();
    w.goaway(1, ErrorCode.PROTOCOL_ERROR, 'x'.repeat(20_000));
    const bytes = Buffer.concat(w.flush());
    assert.equal(bytes.readUIntBE(0, 3), 16_384);
    assert.equal(bytes.length, 9 + 16_384);
  });

  it('rejects arguments that would make a malformed frame', () => {
    const w = new FrameWriter();
    assert.throws(() => w.data(0, Buffer.alloc(1), false), RangeError);
    assert.throws(() => w.headers(2 ** 31, Buffer.alloc(1), false), RangeError);
    assert.throws(() => w.windowUpdate(1, 0), RangeError);
    assert.throws(() => w.windowUpdate(1, 2 ** 31), RangeError);
    assert.throws(() => w.ping(Buffer.alloc(7), false), RangeError);
    assert.throws(() => w.setMaxFrameSize(16_383), RangeError);
    assert.throws(() => w.settings([{ id: 0x10000, value: 1 }]), RangeError);
  });
});

// --- Validation rules -------------------------------------------------------------

interface RuleCase {
  name: string;
  bytes: Buffer;
  scope: 'connection' | 'stream';
  code: number;
  reason: H2ErrorReason;
  /** Substrings the message must contain (the rule and its section). */
  says: string[];
  role?: 'server' | 'client';
  streamId?: number;
}

const big = (n: number): Buffer => Buffer.alloc(n);

const rules: RuleCase[] = [
  // §4.2 frame size
  { name: 'DATA longer than SETTINGS_MAX_FRAME_SIZE is a stream error', bytes: rawFrame(FrameType.DATA, 0, 1, big(16_385)),
    scope: 'stream', code: ErrorCode.FRAME_SIZE_ERROR, reason: 'frame-too-large', streamId: 1,
    says: ['DATA frame length 16385 exceeds SETTINGS_MAX_FRAME_SIZE 16384', '§4.2'] },
  { name: 'HEADERS longer than max frame size is a connection error', bytes: rawFrame(FrameType.HEADERS, Flag.END_HEADERS, 1, big(16_385)),
    scope: 'connection', code: ErrorCode.FRAME_SIZE_ERROR, reason: 'frame-too-large', says: ['HEADERS frame length 16385', '§4.2'] },
  { name: 'CONTINUATION longer than max frame size is a connection error',
    bytes: Buffer.concat([rawFrame(FrameType.HEADERS, 0, 1, [1]), rawFrame(FrameType.CONTINUATION, Flag.END_HEADERS, 1, big(16_385))]),
    scope: 'connection', code: ErrorCode.FRAME_SIZE_ERROR, reason: 'frame-too-large', says: ['CONTINUATION frame length 16385', '§4.2'] },
  { name: 'SETTINGS longer than max frame size is a connection error', bytes: frameHeader(16_386, FrameType.SETTINGS, 0, 0),
    scope: 'connection', code: ErrorCode.FRAME_SIZE_ERROR, reason: 'frame-too-large', says: ['SETTINGS frame length 16386', '§4.2'] },
  { name: 'an unknown frame on stream 0 longer than max frame size is a connection error', bytes: frameHeader(16_385, 0x42, 0, 0),
    scope: 'connection', code: ErrorCode.FRAME_SIZE_ERROR, reason: 'frame-too-large', says: ['UNKNOWN(0x42) frame length 16385', '§4.2'] },
  { name: 'PUSH_PROMISE longer than max frame size is a connection error (client)', role: 'client', bytes: frameHeader(16_385, FrameType.PUSH_PROMISE, 0, 1),
    scope: 'connection', code: ErrorCode.FRAME_SIZE_ERROR, reason: 'frame-too-large', says: ['PUSH_PROMISE frame length 16385', '§4.2'] },
  // stream 0 / non-zero stream
  ...([
    [FrameType.DATA, '§6.1'], [FrameType.HEADERS, '§6.2'], [FrameType.PRIORITY, '§6.3'], [FrameType.RST_STREAM, '§6.4'],
  ] as const).map(([type, section]): RuleCase => ({
    name: `${frameTypeName(type)} on stream 0`, bytes: rawFrame(type, Flag.END_HEADERS, 0, big(type === FrameType.PRIORITY ? 5 : 4)),
    scope: 'connection', code: ErrorCode.PROTOCOL_ERROR, reason: 'bad-stream-id', says: [`${frameTypeName(type)} frame on stream 0`, section],
  })),
  { name: 'CONTINUATION on stream 0', bytes: rawFrame(FrameType.CONTINUATION, Flag.END_HEADERS, 0, [1]),
    scope: 'connection', code: ErrorCode.PROTOCOL_ERROR, reason: 'bad-stream-id', says: ['CONTINUATION frame on stream 0', '§6.10'] },
  { name: 'PUSH_PROMISE on stream 0 (client)', role: 'client', bytes: rawFrame(FrameType.PUSH_PROMISE, Flag.END_HEADERS, 0, [0, 0, 0, 2]),
    scope: 'connection', code: ErrorCode.PROTOCOL_ERROR, reason: 'bad-stream-id', says: ['PUSH_PROMISE frame on stream 0', '§6.6'] },
  ...([[FrameType.SETTINGS, 0, '§6.5'], [FrameType.PING, 8, '§6.7'], [FrameType.GOAWAY, 8, '§6.8']] as const).map(([type, len, section]): RuleCase => ({
    name: `${frameTypeName(type)} on a non-zero stream`, bytes: rawFrame(type, 0, 3, big(len)),
    scope: 'connection', code: ErrorCode.PROTOCOL_ERROR, reason: 'bad-stream-id', says: [`${frameTypeName(type)} frame on stream 3, must be stream 0`, section],
  })),
  { name: 'HEADERS from a client on an even stream', bytes: rawFrame(FrameType.HEADERS, Flag.END_HEADERS, 2, [0x82]),
    scope: 'connection', code: ErrorCode.PROTOCOL_ERROR, reason: 'bad-stream-id', says: ['even stream 2', '§5.1.1'] },
  { name: 'PUSH_PROMISE received by a server', bytes: rawFrame(FrameType.PUSH_PROMISE, Flag.END_HEADERS, 1, [0, 0, 0, 2]),
    scope: 'connection', code: ErrorCode.PROTOCOL_ERROR, reason: 'push-promise-received', says: ['PUSH_PROMISE frame received by a server', '§8.4'] },
  // padding
  { name: 'DATA Pad Length equal to the frame payload length', bytes: rawFrame(FrameType.DATA, Flag.PADDED, 1, [3, 0, 0]),
    scope: 'connection', code: ErrorCode.PROTOCOL_ERROR, reason: 'bad-padding', says: ['DATA frame Pad Length 3 exceeds the 2 octets', '§6.1'] },
  { name: 'padded DATA with no room for Pad Length', bytes: rawFrame(FrameType.DATA, Flag.PADDED, 1, []),
    scope: 'stream', code: ErrorCode.FRAME_SIZE_ERROR, reason: 'bad-frame-length', streamId: 1, says: ['padded DATA frame length 0', '§6.1'] },
  { name: 'HEADERS Pad Length larger than what follows the priority fields',
    bytes: rawFrame(FrameType.HEADERS, Flag.PADDED | Flag.PRIORITY | Flag.END_HEADERS, 1, [2, 0, 0, 0, 0, 16, 0xaa]),
    scope: 'connection', code: ErrorCode.PROTOCOL_ERROR, reason: 'bad-padding', says: ['HEADERS frame Pad Length 2 exceeds the 1 octets', '§6.2'] },
  { name: 'HEADERS too short for its priority fields', bytes: rawFrame(FrameType.HEADERS, Flag.PRIORITY | Flag.END_HEADERS, 1, [0, 0, 0]),
    scope: 'connection', code: ErrorCode.FRAME_SIZE_ERROR, reason: 'bad-frame-length', says: ['HEADERS frame length 3 is too short', '§6.2'] },
  { name: 'PUSH_PROMISE Pad Length too large (client)', role: 'client',
    bytes: rawFrame(FrameType.PUSH_PROMISE, Flag.PADDED | Flag.END_HEADERS, 1, [2, 0, 0, 0, 2, 0xaa]),
    scope: 'connection', code: ErrorCode.PROTOCOL_ERROR, reason: 'bad-padding', says: ['PUSH_PROMISE frame Pad Length 2 exceeds the 1 octets', '§6.6'] },
  // fixed lengths
  { name: 'PRIORITY length 4', bytes: rawFrame(FrameType.PRIORITY, 0, 1, [0, 0, 0, 3]),
    scope: 'stream', code: ErrorCode.FRAME_SIZE_ERROR, reason: 'bad-frame-length', streamId: 1, says: ['PRIORITY frame length 4 is not 5', '§6.3'] },
  { name: 'RST_STREAM length 5', bytes: rawFrame(FrameType.RST_STREAM, 0, 1, big(5)),
    scope: 'connection', code: ErrorCode.FRAME_SIZE_ERROR, reason: 'bad-frame-length', says: ['RST_STREAM frame length 5 is not 4', '§6.4'] },
  { name: 'PING length 7', bytes: rawFrame(FrameType.PING, 0, 0, big(7)),
    scope: 'connection', code: ErrorCode.FRAME_SIZE_ERROR, reason: 'bad-frame-length', says: ['PING frame length 7 is not 8', '§6.7'] },
  { name: 'WINDOW_UPDATE length 3', bytes: rawFrame(FrameType.WINDOW_UPDATE, 0, 1, big(3)),
    scope: 'connection', code: ErrorCode.FRAME_SIZE_ERROR, reason: 'bad-frame-length', says: ['WINDOW_UPDATE frame length 3 is not 4', '§6.9'] },
  { name: 'GOAWAY length 7', bytes: rawFrame(FrameType.GOAWAY, 0, 0, big(7)),
    scope: 'connection', code: ErrorCode.FRAME_SIZE_ERROR, reason: 'bad-frame-length', says: ['GOAWAY frame length 7 is less than 8', '§6.8'] },
  { name: 'PUSH_PROMISE too short for Promised Stream ID (client)', role: 'client', bytes: rawFrame(FrameType.PUSH_PROMISE, Flag.END_HEADERS, 1, [0, 0, 2]),
    scope: 'connection', code: ErrorCode.FRAME_SIZE_ERROR, reason: 'bad-frame-length', says: ['PUSH_PROMISE frame length 3 is too short', '§6.6'] },
  // WINDOW_UPDATE increment 0
  { name: 'WINDOW_UPDATE increment 0 on a stream', bytes: rawFrame(FrameType.WINDOW_UPDATE, 0, 5, [0, 0, 0, 0]),
    scope: 'stream', code: ErrorCode.PROTOCOL_ERROR, reason: 'zero-window-increment', streamId: 5, says: ['increment of 0', '§6.9'] },
  { name: 'WINDOW_UPDATE increment 0 on the connection (reserved bit set)', bytes: rawFrame(FrameType.WINDOW_UPDATE, 0, 0, [0x80, 0, 0, 0]),
    scope: 'connection', code: ErrorCode.PROTOCOL_ERROR, reason: 'zero-window-increment', says: ['increment of 0', '§6.9'] },
  // SETTINGS
  { name: 'SETTINGS ACK with a payload', bytes: rawFrame(FrameType.SETTINGS, Flag.ACK, 0, big(6)),
    scope: 'connection', code: ErrorCode.FRAME_SIZE_ERROR, reason: 'bad-frame-length', says: ['SETTINGS frame with ACK has length 6', '§6.5'] },
  { name: 'SETTINGS length 7', bytes: rawFrame(FrameType.SETTINGS, 0, 0, big(7)),
    scope: 'connection', code: ErrorCode.FRAME_SIZE_ERROR, reason: 'bad-frame-length', says: ['SETTINGS frame length 7 is not a multiple of 6', '§6.5'] },
  { name: 'SETTINGS_ENABLE_PUSH 2', bytes: rawFrame(FrameType.SETTINGS, 0, 0, [0, 2, 0, 0, 0, 2]),
    scope: 'connection', code: ErrorCode.PROTOCOL_ERROR, reason: 'bad-setting-value', says: ['SETTINGS_ENABLE_PUSH value 2 is not 0 or 1', '§6.5.2'] },
  { name: 'SETTINGS_ENABLE_PUSH 1 from a server', role: 'client', bytes: rawFrame(FrameType.SETTINGS, 0, 0, [0, 2, 0, 0, 0, 1]),
    scope: 'connection', code: ErrorCode.PROTOCOL_ERROR, reason: 'bad-setting-value', says: ['SETTINGS_ENABLE_PUSH set to 1 by a server', '§6.5.2'] },
  { name: 'SETTINGS_INITIAL_WINDOW_SIZE 2^31', bytes: rawFrame(FrameType.SETTINGS, 0, 0, [0, 4, 0x80, 0, 0, 0]),
    scope: 'connection', code: ErrorCode.FLOW_CONTROL_ERROR, reason: 'bad-setting-value', says: ['SETTINGS_INITIAL_WINDOW_SIZE value 2147483648 exceeds 2^31-1', '§6.5.2'] },
  { name: 'SETTINGS_MAX_FRAME_SIZE 16383', bytes: rawFrame(FrameType.SETTINGS, 0, 0, [0, 5, 0, 0, 0x3f, 0xff]),
    scope: 'connection', code: ErrorCode.PROTOCOL_ERROR, reason: 'bad-setting-value', says: ['SETTINGS_MAX_FRAME_SIZE value 16383 is outside 16384..16777215', '§6.5.2'] },
  { name: 'SETTINGS_MAX_FRAME_SIZE 2^24', bytes: rawFrame(FrameType.SETTINGS, 0, 0, [0, 5, 0x01, 0, 0, 0]),
    scope: 'connection', code: ErrorCode.PROTOCOL_ERROR, reason: 'bad-setting-value', says: ['SETTINGS_MAX_FRAME_SIZE value 16777216', '§6.5.2'] },
  { name: 'SETTINGS_ENABLE_CONNECT_PROTOCOL 2', bytes: rawFrame(FrameType.SETTINGS, 0, 0, [0, 8, 0, 0, 0, 2]),
    scope: 'connection', code: ErrorCode.PROTOCOL_ERROR, reason: 'bad-setting-value', says: ['SETTINGS_ENABLE_CONNECT_PROTOCOL value 2', 'RFC 8441 §3'] },
  // CONTINUATION sequencing
  { name: 'CONTINUATION without a preceding HEADERS', bytes: rawFrame(FrameType.CONTINUATION, Flag.END_HEADERS, 1, [1]),
    scope: 'connection', code: ErrorCode.PROTOCOL_ERROR, reason: 'unexpected-continuation', says: ['does not follow a HEADERS', '§6.10'] },
  { name: 'CONTINUATION after a HEADERS that had END_HEADERS',
    bytes: Buffer.concat([rawFrame(FrameType.HEADERS, Flag.END_HEADERS, 1, [1]), rawFrame(FrameType.CONTINUATION, Flag.END_HEADERS, 1, [2])]),
    scope: 'connection', code: ErrorCode.PROTOCOL_ERROR, reason: 'unexpected-continuation', says: ['§6.10'] },
  { name: 'DATA interleaved in a field block', bytes: Buffer.concat([rawFrame(FrameType.HEADERS, 0, 1, [1]), rawFrame(FrameType.DATA, 0, 1, [2])]),
    scope: 'connection', code: ErrorCode.PROTOCOL_ERROR, reason: 'continuation-expected', says: ['DATA frame on stream 1 while the field block of HEADERS on stream 1 awaits CONTINUATION', '§6.10'] },
  { name: 'CONTINUATION on another stream', bytes: Buffer.concat([rawFrame(FrameType.HEADERS, 0, 1, [1]), rawFrame(FrameType.CONTINUATION, Flag.END_HEADERS, 3, [2])]),
    scope: 'connection', code: ErrorCode.PROTOCOL_ERROR, reason: 'continuation-expected', says: ['CONTINUATION frame on stream 3', '§6.10'] },
  { name: 'PING (stream 0) interleaved in a field block', bytes: Buffer.concat([rawFrame(FrameType.HEADERS, 0, 1, [1]), rawFrame(FrameType.PING, 0, 0, big(8))]),
    scope: 'connection', code: ErrorCode.PROTOCOL_ERROR, reason: 'continuation-expected', says: ['PING frame on stream 0', '§6.10'] },
  { name: 'an unknown frame interleaved in a field block', bytes: Buffer.concat([rawFrame(FrameType.HEADERS, 0, 1, [1]), rawFrame(0xfa, 0, 1, [])]),
    scope: 'connection', code: ErrorCode.PROTOCOL_ERROR, reason: 'continuation-expected', says: ['UNKNOWN(0xfa) frame', '§6.10'] },
];

describe('validation rules', () => {
  for (const c of rules) {
    it(c.name, () => {
      const { reader, rec } = openedReader({ role: c.role ?? 'server' });
      const ok = reader.push(c.bytes);
      const errors = c.scope === 'connection' ? rec.connectionErrors : rec.streamErrors;
      assert.equal(errors.length, 1, `one ${c.scope} error; got ${[...rec.connectionErrors, ...rec.streamErrors].map((e) => e.message).join(' | ')}`);
      const err = errors[0]!;
      assert.ok(err instanceof (c.scope === 'connection' ? H2ConnectionError : H2StreamError));
      assert.equal(err.scope, c.scope);
      assert.equal(err.code, c.code, `code ${errorCodeName(err.code)}`);
      assert.equal(err.reason, c.reason);
      assert.ok(err.message.startsWith(`${errorCodeName(c.code)}: `), err.message);
      for (const s of c.says) assert.ok(err.message.includes(s), `message ${JSON.stringify(err.message)} names ${JSON.stringify(s)}`);
      if (c.scope === 'connection') {
        assert.equal(ok, false);
        assert.equal(reader.active, false);
        assert.equal(rec.streamErrors.length, 0);
      } else {
        assert.equal(ok, true);
        assert.equal(rec.connectionErrors.length, 0);
        assert.equal((err as H2StreamError).streamId, c.streamId);
      }
    });
  }

  it('a stream error skips the frame and keeps reading; DATA reports its length for flow control', () => {
    const { reader, rec } = openedReader();
    const bytes = Buffer.concat([rawFrame(FrameType.DATA, 0, 1, big(20_000)), rawFrame(FrameType.RST_STREAM, 0, 1, [0, 0, 0, 8])]);
    feedSplit(reader, bytes, [5, 100, 16_000]);
    assert.equal(rec.streamErrors.length, 1);
    assert.equal(rec.streamErrors[0]!.frameLength, 20_000);
    assert.equal(rec.streamErrors[0]!.frameType, FrameType.DATA);
    assert.deepEqual(rec.events, [{ kind: 'rst', streamId: 1, errorCode: 8 }]);
    assert.ok(reader.pendingFrameBytes <= 16_384 + 9, 'the oversized payload was skipped, not buffered');
  });

  it('setMaxFrameSize raises the limit (after our SETTINGS are acked)', () => {
    const { reader, rec } = openedReader();
    reader.setMaxFrameSize(32_768);
    reader.push(rawFrame(FrameType.DATA, 0, 1, big(20_000)));
    assert.equal(rec.streamErrors.length, 0);
    assert.equal(rec.events.length, 1);
    assert.throws(() => reader.setMaxFrameSize(1 << 24), RangeError);
  });

  it('after a connection error the reader stops', () => {
    const { reader, rec } = openedReader();
    assert.equal(reader.push(rawFrame(FrameType.PING, 0, 1, big(8))), false);
    assert.equal(reader.push(rawFrame(FrameType.PING, 0, 0, big(8))), false);
    assert.equal(rec.events.length, 0);
    assert.equal(rec.connectionErrors.length, 1);
  });

  it('close() from inside a handler stops the current push', () => {
    const rec = new Recorder();
    const reader = new FrameReader(rec, { role: 'client' });
    rec.onPing = () => { reader.close(); };
    const ok = reader.push(Buffer.concat([rawFrame(FrameType.SETTINGS, 0, 0), rawFrame(FrameType.PING, 0, 0, big(8)), rawFrame(FrameType.SETTINGS, Flag.ACK, 0)]));
    assert.equal(ok, false);
    assert.deepEqual(rec.events, [{ kind: 'settings', settings: [] }]);
  });

  it('SETTINGS: unknown identifiers are ignored, known ones kept in order, boundary values accepted', () => {
    const { reader, rec } = openedReader();
    reader.push(rawFrame(FrameType.SETTINGS, 0, 0, [
      0, 0x99, 0xff, 0xff, 0xff, 0xff, // unknown id 0x99: dropped
      0, 4, 0x7f, 0xff, 0xff, 0xff,    // INITIAL_WINDOW_SIZE 2^31-1
      0, 5, 0, 0xff, 0xff, 0xff,       // MAX_FRAME_SIZE 2^24-1
      0, 2, 0, 0, 0, 1,                // ENABLE_PUSH 1
      0, 1, 0, 0, 0, 0,                // HEADER_TABLE_SIZE 0
    ]));
    assert.deepEqual(rec.connectionErrors, []);
    assert.deepEqual(rec.events, [{ kind: 'settings', settings: [
      { id: SettingId.INITIAL_WINDOW_SIZE, value: 0x7fff_ffff },
      { id: SettingId.MAX_FRAME_SIZE, value: 16_777_215 },
      { id: SettingId.ENABLE_PUSH, value: 1 }, // from a client: allowed
      { id: SettingId.HEADER_TABLE_SIZE, value: 0 },
    ] }]);
  });

  it('a PUSH_PROMISE frame in a field block on the same stream is still interleaving (client)', () => {
    const { reader, rec } = openedReader({ role: 'client' });
    reader.push(Buffer.concat([rawFrame(FrameType.HEADERS, 0, 1, [1]), rawFrame(FrameType.PUSH_PROMISE, Flag.END_HEADERS, 1, [0, 0, 0, 2])]));
    assert.equal(rec.connectionErrors[0]?.reason, 'continuation-expected');
  });
});

describe('connection preface (§3.4)', () => {
  it('rejects an HTTP/1.1 request at its first octet', () => {
    const rec = new Recorder();
    const reader = new FrameReader(rec);
    assert.equal(reader.push(Buffer.from('GET / HTTP/1.1\r\n')), false);
    const err = rec.connectionErrors[0]!;
    assert.equal(err.code, ErrorCode.PROTOCOL_ERROR);
    assert.equal(err.reason, 'bad-preface');
    assert.match(err.message, /^PROTOCOL_ERROR: invalid client connection preface: octet 0 is 0x47, expected 0x50 \(RFC 9113 §3\.4\)$/);
  });

  it('rejects a preface that goes wrong late, fed byte by byte', () => {
    const rec = new Recorder();
    const reader = new FrameReader(rec);
    const bad = Buffer.from(CLIENT_PREFACE);
    bad[20] = 0x58;
    for (const b of bad) reader.push(Buffer.from([b]));
    assert.equal(rec.connectionErrors.length, 1);
    assert.match(rec.connectionErrors[0]!.message, /octet 20 is 0x58/);
  });

  for (const [name, frame] of [
    ['PING', rawFrame(FrameType.PING, 0, 0, big(8))],
    ['SETTINGS with ACK', rawFrame(FrameType.SETTINGS, Flag.ACK, 0)],
    ['HEADERS', rawFrame(FrameType.HEADERS, Flag.END_HEADERS, 1, [0x82])],
  ] as const) {
    it(`server: first frame after the preface is ${name} → PROTOCOL_ERROR`, () => {
      const rec = new Recorder();
      const reader = new FrameReader(rec);
      reader.push(Buffer.concat([CLIENT_PREFACE, frame]));
      const err = rec.connectionErrors[0]!;
      assert.equal(err.code, ErrorCode.PROTOCOL_ERROR);
      assert.equal(err.reason, 'first-frame-not-settings');
      assert.ok(err.message.includes(`first frame from the peer is ${name}, expected SETTINGS (RFC 9113 §3.4)`), err.message);
    });
  }

  it('client: no preface expected, the server first frame must be SETTINGS', () => {
    const rec = new Recorder();
    const reader = new FrameReader(rec, { role: 'client' });
    reader.push(rawFrame(FrameType.WINDOW_UPDATE, 0, 0, [0, 0, 1, 0]));
    assert.equal(rec.connectionErrors[0]?.reason, 'first-frame-not-settings');
    const rec2 = new Recorder();
    const ok = new FrameReader(rec2, { role: 'client' }).push(rawFrame(FrameType.SETTINGS, 0, 0, [0, 3, 0, 0, 0, 100]));
    assert.equal(ok, true);
    assert.deepEqual(rec2.events, [{ kind: 'settings', settings: [{ id: 3, value: 100 }] }]);
  });
});

describe('CONTINUATION (§6.10)', () => {
  const block = Buffer.from('0123456789abcdef');
  const sequence = Buffer.concat([
    rawFrame(FrameType.HEADERS, Flag.END_STREAM | Flag.PADDED, 1, [2, ...block.subarray(0, 5), 0, 0]),
    rawFrame(FrameType.CONTINUATION, 0, 1, block.subarray(5, 6)),
    rawFrame(FrameType.CONTINUATION, 0, 1, []),
    rawFrame(FrameType.CONTINUATION, Flag.END_HEADERS | Flag.END_STREAM /* ignored here */, 1, block.subarray(6)),
  ]);

  it('assembles fragments into one block, delivered once, across every split point', () => {
    for (let a = 0; a < sequence.length; a += 3) {
      for (let b = a; b < sequence.length; b += 7) {
        const { reader, rec } = openedReader();
        feedSplit(reader, sequence, [a, b]);
        assert.deepEqual(rec.connectionErrors, []);
        assert.deepEqual(rec.events, [
          { kind: 'empty', type: FrameType.CONTINUATION, streamId: 1 },
          { kind: 'headers', streamId: 1, endStream: true, block: block.toString('hex') },
        ]);
        assert.equal(reader.pendingHeaderBlockBytes, 0);
      }
    }
  });

  it('the count limit trips on the CONTINUATION flood, empty frames included', () => {
    const { reader, rec } = openedReader({ maxContinuationFrames: 4 });
    const frames = [rawFrame(FrameType.HEADERS, 0, 1, [1])];
    for (let i = 0; i < 10; i++) frames.push(rawFrame(FrameType.CONTINUATION, 0, 1, []));
    reader.push(Buffer.concat(frames));
    const err = rec.connectionErrors[0]!;
    assert.equal(err.code, ErrorCode.ENHANCE_YOUR_CALM);
    assert.equal(err.reason, 'too-many-continuations');
    assert.ok(err.message.includes('more than 4 CONTINUATION frames'), err.message);
    assert.equal(rec.events.filter((e) => e.kind === 'empty').length, 4);
  });

  it('exactly the count limit is accepted', () => {
    const { reader, rec } = openedReader({ maxContinuationFrames: 2 });
    reader.push(Buffer.concat([rawFrame(FrameType.HEADERS, 0, 1, [1]), rawFrame(FrameType.CONTINUATION, 0, 1, [2]), rawFrame(FrameType.CONTINUATION, Flag.END_HEADERS, 1, [3])]));
    assert.deepEqual(rec.connectionErrors, []);
    assert.deepEqual(rec.events, [{ kind: 'headers', streamId: 1, endStream: false, block: '010203' }]);
  });

  it('the size limit trips before the payload that crosses it is buffered', () => {
    const { reader, rec } = openedReader({ maxHeaderBlockSize: 20_000 });
    reader.push(rawFrame(FrameType.HEADERS, 0, 1, big(16_000)));
    reader.push(frameHeader(4_001, FrameType.CONTINUATION, 0, 1));
    const err = rec.connectionErrors[0]!;
    assert.equal(err.code, ErrorCode.ENHANCE_YOUR_CALM);
    assert.equal(err.reason, 'header-block-too-large');
    assert.ok(err.message.includes('reaches 20001 octets, above the limit of 20000'), err.message);
    assert.equal(reader.pendingFrameBytes, 0);
  });

  it('the size limit also applies to a single HEADERS frame', () => {
    const { reader, rec } = openedReader({ maxHeaderBlockSize: 100 });
    reader.push(rawFrame(FrameType.HEADERS, Flag.END_HEADERS, 1, big(101)));
    assert.equal(rec.connectionErrors[0]?.reason, 'header-block-too-large');
  });

  it('PUSH_PROMISE blocks are assembled too (client)', () => {
    const { reader, rec } = openedReader({ role: 'client' });
    reader.push(Buffer.concat([rawFrame(FrameType.PUSH_PROMISE, 0, 1, [0, 0, 0, 4, 9]), rawFrame(FrameType.CONTINUATION, Flag.END_HEADERS, 1, [8])]));
    assert.deepEqual(rec.events, [{ kind: 'push-promise', streamId: 1, promisedStreamId: 4, block: '0908' }]);
  });
});

describe('empty frames', () => {
  it('are reported for DATA without data or END_STREAM and for non-final empty fragments', () => {
    const { reader, rec } = openedReader();
    reader.push(Buffer.concat([
      rawFrame(FrameType.DATA, 0, 1, []),
      rawFrame(FrameType.DATA, Flag.PADDED, 1, [2, 0, 0]), // only padding: still empty
      rawFrame(FrameType.DATA, Flag.END_STREAM, 1, []),   // ends the stream: not empty
      rawFrame(FrameType.HEADERS, 0, 3, []),
      rawFrame(FrameType.CONTINUATION, Flag.END_HEADERS, 3, []),
    ]));
    assert.deepEqual(rec.events.map((e) => e.kind === 'empty' ? `empty ${frameTypeName(e.type)}` : e.kind), [
      'empty DATA', 'data', 'empty DATA', 'data', 'data', 'empty HEADERS', 'headers',
    ]);
  });
});

it('OPENING is the preface plus an empty SETTINGS', () => {
  assert.equal(OPENING.length, 24 + 9);
});

it('DATA much smaller than its chunk is copied, so that keeping it does not keep the chunk; DATA that fills its chunk is not', () => {
  const kept: Buffer[] = [];
  const { reader, rec } = openedReader();
  rec.onData = (_id: number, _end: boolean, data: Buffer) => void kept.push(data);
  // One byte of DATA among 48 KiB of unknown frames (which the reader skips): the chunk is 48 KiB.
  const unknown = rawFrame(0x20, 0, 0, Buffer.alloc(16 * 1024));
  const chunk = Buffer.concat([rawFrame(FrameType.DATA, 0, 1, [0x61]), unknown, unknown, unknown]);
  reader.push(chunk);
  assert.equal(kept.length, 1);
  assert.equal(kept[0]!.toString(), 'a');
  assert.notEqual(kept[0]!.buffer, chunk.buffer);
  // 16 KiB of DATA in a chunk of its own frame: delivered in place.
  const big = rawFrame(FrameType.DATA, 0, 1, Buffer.alloc(16 * 1024, 0x62));
  reader.push(big);
  assert.equal(kept[1]!.buffer, big.buffer);
});
