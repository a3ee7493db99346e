// HTTP/2 frame writer (RFC 9113 §4.1, §6), built for batching per event-loop tick.
//
// Frames are appended to a caller-owned FrameWriter; flush() hands back the list of
// Buffers to pass to socket.writev (or cork/write/uncork) in one go. Small frames
// and frame headers are packed into one pooled slab, so a tick's worth of SETTINGS
// ACKs, WINDOW_UPDATEs and HEADERS costs one allocation and one iovec entry. Large
// DATA payloads are not copied: the 9-octet header goes into the slab and the
// caller's Buffer joins the output list by reference.
//
// The slab is written strictly forward, so Buffers already handed out by flush()
// stay valid while the socket still holds them; a full slab is replaced by a fresh
// one, twice as large up to slabSize, and left to the GC. Only the owner knows when
// the socket has let go of everything: it calls rewind() and the slab is reused from
// its start. An idle connection so keeps a slab of a few hundred octets, not 16 KiB
// (10,000 of them would be 160 MB).
//
// DATA that is a view of the shared read buffer (SharedReads) is gone when the read's
// callback returns, and a queue copy (queue-copies.ts) once its stream dequeues it, so
// they are copied, header and payload as one piece, into a data slab borrowed from the
// process's pool (data-slabs.ts) and given back at rewind().
//
// Copied DATA that follows copied DATA of the same stream, with nothing written between,
// extends that frame up to the peer's max frame size. A proxy forwards DATA in the pieces
// its reads and the peer's windows cut it into; every frame costs the receiver a callback
// (node:http2 emits 'data' per frame), so the pieces of a tick go out as few frames.
//
// Arguments are checked because a malformed frame from us is a bug that would cost
// the whole connection at the peer; the checks are RangeErrors, not peer errors.

import {
  DEFAULT_MAX_FRAME_SIZE, Flag, FRAME_HEADER_LENGTH, FrameType, MAX_ALLOWED_FRAME_SIZE,
  MAX_STREAM_ID, MAX_WINDOW_SIZE,
} from './constants.js';
import { DATA_SLAB_SIZE, DATA_SLABS_KEPT, giveDataSlab, takeDataSlab } from './data-slabs.js';
import type { Setting } from './frame-reader.js';
import { isQueueCopy } from './queue-copies.js';
import { isSharedRead } from './shared-reads.js';

export interface FrameWriterOptions {
  /** Largest pooled slab. Default 16 KiB. */
  slabSize?: number;
  /** The first slab (each replacement doubles it, up to slabSize). Default 512 octets. */
  firstSlabSize?: number;
  /** DATA payloads up to this many octets are copied into the slab rather than referenced. Default 512. */
  copyThreshold?: number;
}

/**
 * Write a 9-octet frame header (§4.1) at buf[off]. The reserved bit is sent as 0.
 * Exported for tests and for extension frames; FrameWriter uses it internally.
 */
export function writeFrameHeader(buf: Buffer, off: number, length: number, type: number, flags: number, streamId: number): void {
  writeFrameLength(buf, off, length);
  buf[off + 3] = type;
  buf[off + 4] = flags;
  buf.writeUInt32BE(streamId, off + 5);
}

/** The 24-bit length of the frame whose header is at buf[off] (§4.1). */
function writeFrameLength(buf: Buffer, off: number, length: number): void {
  buf[off] = length >>> 16;
  buf[off + 1] = (length >>> 8) & 0xff;
  buf[off + 2] = length & 0xff;
}

/**
 * Copies `n` octets of `src` from `from` to `dst` at `at`. Buffer#copy of part of a buffer makes a
 * view object per call (Node's _copyActual); a field block is usually tens of octets, which a loop
 * copies without allocating.
 */
function copyInto(dst: Buffer, at: number, src: Buffer, from: number, n: number): void {
  if (n > 128) {
    src.copy(dst, at, from, from + n);
    return;
  }
  for (let i = 0; i < n; i++) dst[at + i] = src[from + i]!;
}

export class FrameWriter {
  /**
   * The peer's SETTINGS_MAX_FRAME_SIZE (§4.2, §6.5.2): DATA and field blocks are split
   * to fit. The connection layer updates it when the peer's SETTINGS arrive.
   */
  private peerMaxFrameSize = DEFAULT_MAX_FRAME_SIZE;
  private readonly slabSize: number;
  private readonly copyThreshold: number;
  private slab: Buffer;
  private pos = 0;        // next free octet in slab
  private segmentStart = 0; // start of the slab region not yet moved to `out`
  private out: Buffer[] = [];
  private outLength = 0;   // octets in `out`
  /** Borrowed for copies of shared reads (null while none is); written forward like `slab`. */
  private dataSlab: Buffer | null = null;
  private dataPos = 0;
  private dataSegmentStart = 0;
  /** Full data slabs the socket may still hold, given back with the current one at rewind(). */
  private fullDataSlabs: Buffer[] | null = null;
  /**
   * The last frame written, while it is copied DATA without END_STREAM: its stream (0: none), the
   * buffer it is in (slab or dataSlab), its header's offset there and its payload's length.
   */
  private openStream = 0;
  private openIn: Buffer | null = null;
  private openAt = 0;
  private openLength = 0;

  constructor(options: FrameWriterOptions = {}) {
    this.slabSize = options.slabSize ?? 16 * 1024;
    this.copyThreshold = options.copyThreshold ?? 512;
    this.slab = Buffer.allocUnsafeSlow(Math.min(this.slabSize, options.firstSlabSize ?? 512));
  }

  /** The peer's SETTINGS_MAX_FRAME_SIZE currently used for splitting. */
  get maxFrameSize(): number { return this.peerMaxFrameSize; }

  /** Apply the peer's SETTINGS_MAX_FRAME_SIZE (already validated by the reader, §6.5.2). */
  setMaxFrameSize(size: number): void {
    if (!Number.isInteger(size) || size < DEFAULT_MAX_FRAME_SIZE || size > MAX_ALLOWED_FRAME_SIZE) {
      throw new RangeError(`max frame size ${size} is outside 16384..16777215 (RFC 9113 §6.5.2)`);
    }
    this.peerMaxFrameSize = size;
  }

  /** Octets written since the last flush(). */
  get pendingBytes(): number { return this.outLength + (this.pos - this.segmentStart) + (this.dataPos - this.dataSegmentStart); }

  /**
   * The socket no longer holds any Buffer flush() handed out: the slab is written from
   * its start again, and data slabs go back to the pool. Nothing happens while frames are
   * pending here.
   */
  rewind(): void {
    if (this.pendingBytes !== 0) return;
    this.pos = 0;
    this.segmentStart = 0;
    if (this.dataSlab === null) return;
    giveDataSlab(this.dataSlab);
    this.dataSlab = null;
    const full = this.fullDataSlabs;
    if (full !== null) {
      for (let i = 0; i < full.length; i++) giveDataSlab(full[i]!);
      this.fullDataSlabs = null;
    }
  }

  /**
   * The frames written since the last call, in order, ready for socket.writev or
   * cork/write/uncork. The Buffers belong to the caller from here on.
   */
  flush(): Buffer[] {
    this.openStream = 0;
    this.openIn = null; // nor keep a slab the writer has replaced
    this.seal();
    this.sealData();
    const out = this.out;
    this.out = [];
    this.outLength = 0;
    return out;
  }

  /**
   * DATA (§6.1), split into frames of at most the peer's max frame size. END_STREAM
   * goes on the last frame only. An empty `data` with endStream writes one empty
   * frame. The caller must have checked flow control (§6.9) and must not mutate
   * `data` until it has been written to the socket (it may be referenced, not copied).
   */
  data(streamId: number, data: Buffer, endStream: boolean): void {
    checkStream(streamId, 'DATA');
    const max = this.peerMaxFrameSize;
    const total = data.length;
    // Pieces above copyThreshold are copied only if borrowed; asked once, not per piece.
    const borrowed = total > this.copyThreshold && isBorrowed(data);
    let off = 0;
    if (streamId === this.openStream) {
      off = this.extend(data, endStream, max, borrowed);
      if (off === total && (total > 0 || endStream)) return;
    }
    do {
      const size = Math.min(max, total - off);
      const last = off + size === total;
      const flags = last && endStream ? Flag.END_STREAM : 0;
      if (size <= this.copyThreshold) {
        const at = this.reserve(FRAME_HEADER_LENGTH + size);
        writeFrameHeader(this.slab, at, size, FrameType.DATA, flags, streamId);
        copyInto(this.slab, at + FRAME_HEADER_LENGTH, data, off, size);
        if (flags === 0) this.open(streamId, this.slab, at, size);
      } else if (borrowed) {
        const at = this.reserveData(FRAME_HEADER_LENGTH + size);
        const slab = this.dataSlab!;
        writeFrameHeader(slab, at, size, FrameType.DATA, flags, streamId);
        data.copy(slab, at + FRAME_HEADER_LENGTH, off, off + size);
        if (flags === 0) this.open(streamId, slab, at, size);
      } else {
        const at = this.reserve(FRAME_HEADER_LENGTH);
        writeFrameHeader(this.slab, at, size, FrameType.DATA, flags, streamId);
        this.seal();
        this.out.push(off === 0 && size === total ? data : data.subarray(off, off + size));
        this.outLength += size;
      }
      off += size;
    } while (off < total);
  }

  /** The copied DATA frame just written may be extended by more of its stream's DATA. */
  private open(streamId: number, inBuffer: Buffer, at: number, length: number): void {
    this.openStream = streamId;
    this.openIn = inBuffer;
    this.openAt = at;
    this.openLength = length;
  }

  /**
   * Appends what fits of `data` to the open DATA frame (the last frame written, copied DATA of the
   * same stream), as far as the frame size and its buffer allow; END_STREAM goes on it if all of
   * `data` fits. Only data the writer would copy anyway (small, or `borrowed`) is appended, so
   * referenced DATA stays uncopied. Returns the octets taken.
   */
  private extend(data: Buffer, endStream: boolean, max: number, borrowed: boolean): number {
    const inBuffer = this.openIn!;
    const end = this.openAt + FRAME_HEADER_LENGTH + this.openLength;
    const room = Math.min(max - this.openLength, inBuffer.length - end);
    const total = data.length;
    const n = total <= this.copyThreshold || borrowed ? Math.min(total, room) : 0;
    if (n > 0) {
      copyInto(inBuffer, end, data, 0, n);
      if (inBuffer === this.slab) this.pos += n;
      else this.dataPos += n;
      this.openLength += n;
      writeFrameLength(inBuffer, this.openAt, this.openLength);
    }
    if (n === total && endStream) {
      inBuffer[this.openAt + 4] |= Flag.END_STREAM;
      this.openStream = 0;
    }
    return n;
  }

  /**
   * A field block as HEADERS plus as many CONTINUATIONs as the peer's max frame size
   * requires (§4.3, §6.2, §6.10); END_HEADERS on the last, END_STREAM on HEADERS
   * (it applies to the whole block, §6.2). The block (its first `total` octets) is copied, so an
   * HPACK encoder may reuse its output buffer straight away. The frames are written contiguously,
   * as §4.3 requires: nothing else can interleave within one call.
   */
  headers(streamId: number, block: Buffer, endStream: boolean, total = block.length): void {
    checkStream(streamId, 'HEADERS');
    const max = this.peerMaxFrameSize;
    let off = 0;
    let type: number = FrameType.HEADERS;
    let flags = endStream ? Flag.END_STREAM : 0;
    do {
      const size = Math.min(max, total - off);
      if (off + size === total) flags |= Flag.END_HEADERS;
      const at = this.reserve(FRAME_HEADER_LENGTH + size);
      writeFrameHeader(this.slab, at, size, type, flags, streamId);
      copyInto(this.slab, at + FRAME_HEADER_LENGTH, block, off, size);
      off += size;
      type = FrameType.CONTINUATION;
      flags = 0;
    } while (off < total);
  }

  /** RST_STREAM (§6.4). */
  rstStream(streamId: number, errorCode: number): void {
    checkStream(streamId, 'RST_STREAM');
    const at = this.reserve(FRAME_HEADER_LENGTH + 4);
    writeFrameHeader(this.slab, at, 4, FrameType.RST_STREAM, 0, streamId);
    this.slab.writeUInt32BE(checkU32(errorCode, 'error code'), at + FRAME_HEADER_LENGTH);
  }

  /** SETTINGS (§6.5) with the given parameters, in order. */
  settings(settings: readonly Setting[]): void {
    const length = settings.length * 6;
    const at = this.reserve(FRAME_HEADER_LENGTH + length);
    writeFrameHeader(this.slab, at, length, FrameType.SETTINGS, 0, 0);
    let p = at + FRAME_HEADER_LENGTH;
    for (const { id, value } of settings) {
      if (!Number.isInteger(id) || id < 0 || id > 0xffff) throw new RangeError(`SETTINGS identifier ${id} is not 16-bit`);
      this.slab.writeUInt16BE(id, p);
      this.slab.writeUInt32BE(checkU32(value, 'SETTINGS value'), p + 2);
      p += 6;
    }
  }

  /** SETTINGS with ACK and an empty payload (§6.5). */
  settingsAck(): void {
    const at = this.reserve(FRAME_HEADER_LENGTH);
    writeFrameHeader(this.slab, at, 0, FrameType.SETTINGS, Flag.ACK, 0);
  }

  /** PING (§6.7); `opaque` must be 8 octets (echo the received ones when acking). */
  ping(opaque: Buffer, ack: boolean): void {
    if (opaque.length !== 8) throw new RangeError(`PING opaque data is ${opaque.length} octets, must be 8 (RFC 9113 §6.7)`);
    const at = this.reserve(FRAME_HEADER_LENGTH + 8);
    writeFrameHeader(this.slab, at, 8, FrameType.PING, ack ? Flag.ACK : 0, 0);
    opaque.copy(this.slab, at + FRAME_HEADER_LENGTH);
  }

  /** GOAWAY (§6.8) naming the last peer-initiated stream we processed. */
  goaway(lastStreamId: number, errorCode: number, debugData?: Buffer | string): void {
    if (!Number.isInteger(lastStreamId) || lastStreamId < 0 || lastStreamId > MAX_STREAM_ID) {
      throw new RangeError(`GOAWAY last stream id ${lastStreamId} is not a 31-bit stream id`);
    }
    let debug = typeof debugData === 'string' ? Buffer.from(debugData, 'utf8') : debugData;
    // Debug data is diagnostic only (§6.8): cut it to fit one frame rather than fail.
    if (debug !== undefined && 8 + debug.length > this.peerMaxFrameSize) debug = debug.subarray(0, this.peerMaxFrameSize - 8);
    const length = 8 + (debug === undefined ? 0 : debug.length);
    const at = this.reserve(FRAME_HEADER_LENGTH + length);
    writeFrameHeader(this.slab, at, length, FrameType.GOAWAY, 0, 0);
    this.slab.writeUInt32BE(lastStreamId, at + FRAME_HEADER_LENGTH);
    this.slab.writeUInt32BE(checkU32(errorCode, 'error code'), at + FRAME_HEADER_LENGTH + 4);
    if (debug !== undefined) debug.copy(this.slab, at + FRAME_HEADER_LENGTH + 8);
  }

  /** WINDOW_UPDATE (§6.9); stream 0 updates the connection window. Increment 1..2^31-1. */
  windowUpdate(streamId: number, increment: number): void {
    if (!Number.isInteger(streamId) || streamId < 0 || streamId > MAX_STREAM_ID) {
      throw new RangeError(`WINDOW_UPDATE stream id ${streamId} is not a 31-bit stream id`);
    }
    if (!Number.isInteger(increment) || increment < 1 || increment > MAX_WINDOW_SIZE) {
      throw new RangeError(`WINDOW_UPDATE increment ${increment} is outside 1..2^31-1 (RFC 9113 §6.9)`);
    }
    const at = this.reserve(FRAME_HEADER_LENGTH + 4);
    writeFrameHeader(this.slab, at, 4, FrameType.WINDOW_UPDATE, 0, streamId);
    this.slab.writeUInt32BE(increment, at + FRAME_HEADER_LENGTH);
  }

  // PRIORITY is deliberately absent: its signalling is deprecated (§5.3.2) and we
  // never send it. PUSH_PROMISE is absent too: the router never pushes.

  /** Room for n octets at the returned offset in this.slab. */
  private reserve(n: number): number {
    this.openStream = 0;
    this.sealData(); // frames go out in the order they were written
    if (this.pos + n > this.slab.length) {
      this.seal();
      this.slab = Buffer.allocUnsafeSlow(Math.max(Math.min(this.slabSize, 2 * this.slab.length), n));
      this.pos = 0;
      this.segmentStart = 0;
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }

  /**
   * Room for n octets at the returned offset in this.dataSlab (borrowed if need be). A piece larger
   * than a slab (a shared read is no larger than one; a frame may be) gets a buffer of its own.
   */
  private reserveData(n: number): number {
    this.openStream = 0;
    this.seal();
    let slab = this.dataSlab;
    if (slab !== null && this.dataPos + n <= slab.length) {
      const at = this.dataPos;
      this.dataPos += n;
      return at;
    }
    this.sealData();
    // Kept to give back, up to the pool's size: past it the GC takes them (a socket never drained).
    if (slab !== null && (this.fullDataSlabs ??= []).length < DATA_SLABS_KEPT) this.fullDataSlabs.push(slab);
    slab = this.dataSlab = n <= DATA_SLAB_SIZE ? takeDataSlab() : Buffer.allocUnsafeSlow(n);
    this.dataPos = n;
    this.dataSegmentStart = 0;
    return 0;
  }

  private sealData(): void {
    if (this.dataPos > this.dataSegmentStart) {
      this.out.push(this.dataSlab!.subarray(this.dataSegmentStart, this.dataPos));
      this.outLength += this.dataPos - this.dataSegmentStart;
      this.dataSegmentStart = this.dataPos;
    }
  }

  /** Move the written part of the slab to the output list. */
  private seal(): void {
    if (this.pos > this.segmentStart) {
      this.out.push(this.slab.subarray(this.segmentStart, this.pos));
      this.outLength += this.pos - this.segmentStart;
      this.segmentStart = this.pos;
    }
  }
}

/** DATA whose bytes are gone before the socket has written them (at the next read; when dequeued): copied, never referenced. */
function isBorrowed(data: Buffer): boolean {
  return isSharedRead(data) || isQueueCopy(data);
}

function checkStream(streamId: number, what: string): void {
  if (!Number.isInteger(streamId) || streamId < 1 || streamId > MAX_STREAM_ID) {
    throw new RangeError(`${what} stream id ${streamId} is outside 1..2^31-1 (RFC 9113 §5.1.1)`);
  }
}

function checkU32(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) throw new RangeError(`${what} ${value} is not a 32-bit unsigned integer`);
  return value;
}
