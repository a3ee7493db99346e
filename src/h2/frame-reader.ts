// Streaming HTTP/2 frame reader (RFC 9113 §4, §6).
//
// The socket pushes chunks of any size; frames may be split anywhere, including
// inside the 9-octet header. The reader validates everything about a frame that
// can be judged without connection state (stream states, flow-control windows and
// SETTINGS negotiation belong to the connection layer) and hands frames to one
// handler object, one method per frame type: no per-frame closures or event
// objects on the hot path.
//
// Zero copy: a frame that lies inside one chunk is delivered as a subarray of that
// chunk. Only a frame that straddles chunks is copied, once, into a buffer of its
// exact length (DATA of shared reads: into a pooled slab), and DATA much smaller than
// its chunk (a kept payload then keeps at most four times its size, or a share of an
// 8 KiB slab). Payloads therefore alias the caller's chunks: the caller must not
// reuse or mutate a chunk after pushing it (Node's socket 'data' chunks are fresh,
// so the normal case is fine) and the handler may keep payloads it is given. With
// transientChunks (SharedReads) the caller does reuse them: a DATA payload is then
// valid only until onData returns.

import {
  CLIENT_PREFACE, DEFAULT_MAX_FRAME_SIZE, ErrorCode, Flag, FRAME_HEADER_LENGTH, FrameType,
  MAX_ALLOWED_FRAME_SIZE, MAX_WINDOW_SIZE, SettingId, frameTypeName,
} from './constants.js';
import { H2ConnectionError, H2StreamError, type H2ErrorReason } from './errors.js';
import { DATA_SLAB_SIZE, giveDataSlab, takeDataSlab } from './data-slabs.js';
import { lendAsSharedRead } from './shared-reads.js';
import { PayloadCopies } from './small-chunks.js';

/** One SETTINGS parameter, in the order the peer sent it (§6.5.3 requires in-order processing). */
export interface Setting {
  readonly id: number;
  readonly value: number;
}

/**
 * Receives frames from a {@link FrameReader}. Stream ids have the reserved bit
 * cleared (§4.1). Buffers passed in alias input chunks (see the file comment).
 */
export interface FrameHandler {
  /**
   * DATA (§6.1). `data` has padding removed; `flowControlLength` is the whole frame
   * payload including Pad Length and padding, which is what flow control counts (§6.9.1).
   * With transientChunks, valid only until this returns when isSharedRead(data).
   */
  onData(streamId: number, endStream: boolean, data: Buffer, flowControlLength: number): void;
  /**
   * A complete field block (§4.3), `block[start, end)`: a HEADERS frame with END_HEADERS (in
   * the chunk it came in: no view object per block), or HEADERS plus its CONTINUATIONs
   * assembled into one buffer. Padding and priority fields removed. Valid during the call only.
   */
  onHeaders(streamId: number, endStream: boolean, block: Buffer, start: number, end: number): void;
  /** PRIORITY (§6.3). Deprecated signalling (§5.3.2): the fields may be ignored. */
  onPriority(streamId: number, dependency: number, exclusive: boolean, weight: number): void;
  /** RST_STREAM (§6.4). */
  onRstStream(streamId: number, errorCode: number): void;
  /** A non-ACK SETTINGS frame (§6.5) with valid values; unknown ids are already dropped. */
  onSettings(settings: Setting[]): void;
  /** A SETTINGS frame with ACK (§6.5). */
  onSettingsAck(): void;
  /** A complete PUSH_PROMISE field block (§6.6), only in the client role. */
  onPushPromise(streamId: number, promisedStreamId: number, block: Buffer): void;
  /** PING (§6.7). `opaque` is the 8 octets to echo back in the ACK. */
  onPing(ack: boolean, opaque: Buffer): void;
  /** GOAWAY (§6.8). */
  onGoaway(lastStreamId: number, errorCode: number, debugData: Buffer): void;
  /** WINDOW_UPDATE (§6.9) with a non-zero increment; streamId 0 is the connection window. */
  onWindowUpdate(streamId: number, increment: number): void;
  /** A frame of a type this reader does not know; must be ignored (§4.1, §5.5) but can be counted. */
  onUnknownFrame(type: number, flags: number, streamId: number, payload: Buffer): void;
  /**
   * A frame that carries nothing and ends nothing: DATA with no data and no
   * END_STREAM, HEADERS/PUSH_PROMISE/CONTINUATION with an empty fragment and no
   * END_HEADERS. Called in addition to the frame's own method (or, for a non-final
   * fragment, instead of any). Lets the connection layer cap empty-frame floods.
   */
  onEmptyFrame(type: number, streamId: number): void;
  /** A stream error (§5.4.2); the frame was discarded and reading continues. */
  onStreamError(error: H2StreamError): void;
  /** A connection error (§5.4.1); the reader has stopped. */
  onConnectionError(error: H2ConnectionError): void;
}

export interface FrameReaderOptions {
  /**
   * 'server' (default): expect the 24-octet client preface, then SETTINGS (§3.4);
   * PUSH_PROMISE and HEADERS on even streams are connection errors (§8.4, §5.1.1).
   * 'client': no preface; the server's first frame must be SETTINGS (§3.4).
   */
  role?: 'server' | 'client';
  /**
   * Largest frame payload accepted: our SETTINGS_MAX_FRAME_SIZE (§4.2). Default
   * 16384. Raise it with {@link FrameReader.setMaxFrameSize} only once the peer has
   * acknowledged the SETTINGS that advertised it (§6.5.3).
   */
  maxFrameSize?: number;
  /** Largest field block (HEADERS/PUSH_PROMISE + CONTINUATIONs, after padding) accepted. Default 65536. */
  maxHeaderBlockSize?: number;
  /** Largest number of CONTINUATION frames, empty ones included, after one HEADERS/PUSH_PROMISE. Default 32. */
  maxContinuationFrames?: number;
  /**
   * Chunks are overwritten once push() returns (SharedReads): DATA inside one chunk is delivered as
   * a view of it, valid only during onData, and whatever keeps it copies it (isSharedRead).
   */
  transientChunks?: boolean;
}

export const DEFAULT_MAX_HEADER_BLOCK_SIZE = 65_536;
export const DEFAULT_MAX_CONTINUATION_FRAMES = 32;

// Reader states.
const PREFACE = 0;
const HEADER = 1;
const PAYLOAD = 2;
const SKIP = 3;
const FAILED = 4;

const STREAM_ID_MASK = 0x7fff_ffff;

export class FrameReader {
  private state: number;
  private readonly handler: FrameHandler;
  private readonly isServer: boolean;
  private maxFrameSize: number;
  private readonly maxHeaderBlockSize: number;
  private readonly maxContinuationFrames: number;
  private readonly transientChunks: boolean;

  /** True until the peer's first frame (which must be SETTINGS, §3.4) has been seen. */
  private awaitingSettings = true;
  private prefaceMatched = 0;

  // A frame header split across chunks is gathered here.
  private readonly headerBuf = Buffer.allocUnsafe(FRAME_HEADER_LENGTH);
  /** Small payloads copied out of large reads (see DATA below). */
  private readonly copies = new PayloadCopies();
  private headerFill = 0;

  // The frame whose header has been read.
  private frameLength = 0;
  private frameType = 0;
  private frameFlags = 0;
  private frameStream = 0;

  // A payload split across chunks is gathered here (exact length: fresh per frame, or a view of payloadSlab).
  private payloadBuf: Buffer | null = null;
  private payloadFill = 0;
  /** The pooled slab payloadBuf is a view of: DATA split across shared reads (transientChunks). */
  private payloadSlab: Buffer | null = null;
  // Octets of a discarded frame still to skip (stream error on an oversized frame).
  private skipRemaining = 0;

  // An open field block (§4.3): HEADERS/PUSH_PROMISE without END_HEADERS.
  private blockStream = 0; // 0: no block open (neither may be sent on stream 0)
  private blockType = 0;
  private blockEndStream = false;
  private blockPromised = 0;
  private blockFragments: Buffer[] = [];
  private blockSize = 0;
  private blockContinuations = 0;

  constructor(handler: FrameHandler, options: FrameReaderOptions = {}) {
    this.handler = handler;
    this.isServer = (options.role ?? 'server') === 'server';
    this.state = this.isServer ? PREFACE : HEADER;
    this.maxFrameSize = checkFrameSize(options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE);
    this.maxHeaderBlockSize = options.maxHeaderBlockSize ?? DEFAULT_MAX_HEADER_BLOCK_SIZE;
    this.maxContinuationFrames = options.maxContinuationFrames ?? DEFAULT_MAX_CONTINUATION_FRAMES;
    this.transientChunks = options.transientChunks ?? false;
  }

  /** False once a connection error was reported or {@link close} was called. */
  get active(): boolean { return this.state !== FAILED; }

  /** Octets held for the frame being read (split header + split payload); at most maxFrameSize + 9. */
  get pendingFrameBytes(): number {
    return this.headerFill + (this.payloadBuf === null ? 0 : this.payloadBuf.length);
  }

  /** Octets of an open field block held while waiting for its CONTINUATIONs. */
  get pendingHeaderBlockBytes(): number { return this.blockSize; }
  /** A field block has begun and not ended (END_HEADERS not seen yet). */
  get headerBlockPending(): boolean { return this.blockStream !== 0; }

  /** Our SETTINGS_MAX_FRAME_SIZE once the peer has ACKed it (§4.2, §6.5.3). */
  setMaxFrameSize(size: number): void {
    this.maxFrameSize = checkFrameSize(size);
  }

  /** Stop reading (e.g. the connection layer found a connection error); drops buffers. */
  close(): void {
    this.state = FAILED;
    this.payloadBuf = null;
    // Half a frame nobody has seen: its slab is free.
    if (this.payloadSlab !== null) giveDataSlab(this.payloadSlab);
    this.payloadSlab = null;
    this.blockFragments = [];
    this.blockSize = 0;
    this.blockStream = 0;
  }

  /**
   * Feed bytes from the socket. Returns false once the reader has stopped (after a
   * connection error, reported through the handler, or close()).
   */
  push(chunk: Buffer): boolean {
    const n = chunk.length;
    let off = 0;
    if (this.state === PREFACE) off = this.readPreface(chunk);

    while (off < n) {
      const state = this.state;
      if (state === HEADER) {
        let length: number;
        let type: number;
        let flags: number;
        let streamId: number;
        if (this.headerFill === 0 && n - off >= FRAME_HEADER_LENGTH) {
          // Common case: the whole header is in this chunk.
          length = (chunk[off]! << 16) | (chunk[off + 1]! << 8) | chunk[off + 2]!;
          type = chunk[off + 3]!;
          flags = chunk[off + 4]!;
          streamId = chunk.readUInt32BE(off + 5) & STREAM_ID_MASK;
          off += FRAME_HEADER_LENGTH;
        } else {
          const take = Math.min(FRAME_HEADER_LENGTH - this.headerFill, n - off);
          chunk.copy(this.headerBuf, this.headerFill, off, off + take);
          this.headerFill += take;
          off += take;
          if (this.headerFill < FRAME_HEADER_LENGTH) break;
          this.headerFill = 0;
          const h = this.headerBuf;
          length = (h[0]! << 16) | (h[1]! << 8) | h[2]!;
          type = h[3]!;
          flags = h[4]!;
          streamId = h.readUInt32BE(5) & STREAM_ID_MASK;
        }
        if (!this.beginFrame(length, type, flags, streamId)) continue; // error or skip set up
        if (length === 0) {
          this.dispatch(chunk, off, 0, false);
        } else if (n - off >= length) {
          // Common case: the whole payload is in this chunk; deliver subarrays of it.
          this.dispatch(chunk, off, length, this.transientChunks);
          off += length;
        } else {
          // DATA split across shared reads is put together in a pooled slab, delivered as a shared
          // read (copied where it is kept) and given back: not a buffer per frame for the GC.
          const slab = this.transientChunks && type === FrameType.DATA && length <= DATA_SLAB_SIZE ? takeDataSlab() : null;
          const buf = slab === null ? Buffer.allocUnsafe(length) : slab.subarray(0, length);
          this.payloadSlab = slab;
          chunk.copy(buf, 0, off, n);
          this.payloadBuf = buf;
          this.payloadFill = n - off;
          this.state = PAYLOAD;
          off = n;
        }
      } else if (state === PAYLOAD) {
        const buf = this.payloadBuf!;
        const take = Math.min(buf.length - this.payloadFill, n - off);
        chunk.copy(buf, this.payloadFill, off, off + take);
        this.payloadFill += take;
        off += take;
        if (this.payloadFill === buf.length) {
          this.payloadBuf = null;
          this.state = HEADER;
          const slab = this.payloadSlab;
          if (slab === null) this.dispatch(buf, 0, buf.length, false); // our own copy
          else {
            this.payloadSlab = null;
            const before = lendAsSharedRead(slab.buffer);
            try {
              this.dispatch(buf, 0, buf.length, true);
            } finally {
              lendAsSharedRead(before);
              giveDataSlab(slab); // whatever kept the payload copied it, even a handler that threw
            }
          }
        }
      } else if (state === SKIP) {
        const take = Math.min(this.skipRemaining, n - off);
        this.skipRemaining -= take;
        off += take;
        if (this.skipRemaining === 0) this.state = HEADER;
      } else {
        return false; // FAILED (possibly set by the handler calling close())
      }
    }
    return this.state !== FAILED;
  }

  // §3.4: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", matched octet by octet so that an HTTP/1.1
  // request or a TLS ClientHello is rejected at its first octet, not after 24.
  private readPreface(chunk: Buffer): number {
    let i = 0;
    let matched = this.prefaceMatched;
    const want = CLIENT_PREFACE.length;
    while (matched < want && i < chunk.length) {
      const got = chunk[i]!;
      const expected = CLIENT_PREFACE[matched]!;
      if (got !== expected) {
        this.connectionError(ErrorCode.PROTOCOL_ERROR, 'bad-preface', 0,
          `invalid client connection preface: octet ${matched} is 0x${hex2(got)}, expected 0x${hex2(expected)} (RFC 9113 §3.4)`);
        return chunk.length;
      }
      matched++;
      i++;
    }
    this.prefaceMatched = matched;
    if (matched === want) this.state = HEADER;
    return i;
  }

  /**
   * Validate a frame header before buffering its payload, so a bad or oversized
   * frame costs no memory. Returns true when the payload should be read and
   * dispatched; false after an error was reported (state FAILED or SKIP).
   */
  private beginFrame(length: number, type: number, flags: number, streamId: number): boolean {
    this.frameLength = length;
    this.frameType = type;
    this.frameFlags = flags;
    this.frameStream = streamId;

    if (this.awaitingSettings) {
      // §3.4: the preface of either side is followed by (server: consists of) a SETTINGS frame.
      if (type !== FrameType.SETTINGS || (flags & Flag.ACK) !== 0) {
        return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'first-frame-not-settings', type,
          `first frame from the peer is ${describe(type, flags)}, expected SETTINGS (RFC 9113 §3.4)`);
      }
      this.awaitingSettings = false;
    }

    if (this.blockStream !== 0) {
      // §6.10, §4.3: a field block is a contiguous sequence; §5.5: extension frames too.
      if (type !== FrameType.CONTINUATION || streamId !== this.blockStream) {
        return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'continuation-expected', type,
          `${frameTypeName(type)} frame on stream ${streamId} while the field block of ${frameTypeName(this.blockType)} on stream ${this.blockStream} awaits CONTINUATION (RFC 9113 §6.10)`);
      }
    }

    if (length > this.maxFrameSize) {
      // §4.2: frames that can alter connection state (field blocks, SETTINGS, stream 0)
      // need a connection error; for the others a stream error is enough.
      const detail = `${frameTypeName(type)} frame length ${length} exceeds SETTINGS_MAX_FRAME_SIZE ${this.maxFrameSize} (RFC 9113 §4.2)`;
      if (streamId === 0 || type === FrameType.HEADERS || type === FrameType.PUSH_PROMISE ||
          type === FrameType.CONTINUATION || type === FrameType.SETTINGS) {
        return this.connectionError(ErrorCode.FRAME_SIZE_ERROR, 'frame-too-large', type, detail);
      }
      return this.skipFrame(ErrorCode.FRAME_SIZE_ERROR, 'frame-too-large', detail);
    }

    switch (type) {
      case FrameType.DATA:
        if (streamId === 0) return this.onStreamZero('§6.1');
        if ((flags & Flag.PADDED) !== 0 && length < 1) {
          return this.skipFrame(ErrorCode.FRAME_SIZE_ERROR, 'bad-frame-length',
            'padded DATA frame length 0 has no room for Pad Length (RFC 9113 §6.1, §4.2)');
        }
        return true;
      case FrameType.HEADERS: {
        if (streamId === 0) return this.onStreamZero('§6.2');
        if (this.isServer && (streamId & 1) === 0) {
          // §5.1.1: clients open odd streams; a client cannot send HEADERS on a pushed
          // (even) stream either, since such streams are half-closed for it (§8.4).
          return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'bad-stream-id', type,
            `HEADERS frame from a client on even stream ${streamId} (RFC 9113 §5.1.1)`);
        }
        const min = ((flags & Flag.PADDED) !== 0 ? 1 : 0) + ((flags & Flag.PRIORITY) !== 0 ? 5 : 0);
        if (length < min) {
          return this.connectionError(ErrorCode.FRAME_SIZE_ERROR, 'bad-frame-length', type,
            `HEADERS frame length ${length} is too short for its ${min} octets of Pad Length/priority fields (RFC 9113 §6.2, §4.2)`);
        }
        return true;
      }
      case FrameType.PRIORITY:
        if (streamId === 0) return this.onStreamZero('§6.3');
        if (length !== 5) {
          return this.skipFrame(ErrorCode.FRAME_SIZE_ERROR, 'bad-frame-length',
            `PRIORITY frame length ${length} is not 5 (RFC 9113 §6.3)`);
        }
        return true;
      case FrameType.RST_STREAM:
        if (streamId === 0) return this.onStreamZero('§6.4');
        if (length !== 4) return this.fixedLength(4, '§6.4');
        return true;
      case FrameType.SETTINGS:
        if (streamId !== 0) return this.onNonZeroStream('§6.5');
        if ((flags & Flag.ACK) !== 0 && length !== 0) {
          return this.connectionError(ErrorCode.FRAME_SIZE_ERROR, 'bad-frame-length', type,
            `SETTINGS frame with ACK has length ${length}, must be empty (RFC 9113 §6.5)`);
        }
        if (length % 6 !== 0) {
          return this.connectionError(ErrorCode.FRAME_SIZE_ERROR, 'bad-frame-length', type,
            `SETTINGS frame length ${length} is not a multiple of 6 (RFC 9113 §6.5)`);
        }
        return true;
      case FrameType.PUSH_PROMISE: {
        if (streamId === 0) return this.onStreamZero('§6.6');
        if (this.isServer) {
          return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'push-promise-received', type,
            'PUSH_PROMISE frame received by a server: a client cannot push (RFC 9113 §8.4)');
        }
        const min = ((flags & Flag.PADDED) !== 0 ? 1 : 0) + 4;
        if (length < min) {
          return this.connectionError(ErrorCode.FRAME_SIZE_ERROR, 'bad-frame-length', type,
            `PUSH_PROMISE frame length ${length} is too short for its ${min} octets of Pad Length/Promised Stream ID (RFC 9113 §6.6, §4.2)`);
        }
        return true;
      }
      case FrameType.PING:
        if (streamId !== 0) return this.onNonZeroStream('§6.7');
        if (length !== 8) return this.fixedLength(8, '§6.7');
        return true;
      case FrameType.GOAWAY:
        if (streamId !== 0) return this.onNonZeroStream('§6.8');
        if (length < 8) {
          return this.connectionError(ErrorCode.FRAME_SIZE_ERROR, 'bad-frame-length', type,
            `GOAWAY frame length ${length} is less than 8 (RFC 9113 §6.8, §4.2)`);
        }
        return true;
      case FrameType.WINDOW_UPDATE:
        if (length !== 4) return this.fixedLength(4, '§6.9');
        return true;
      case FrameType.CONTINUATION:
        if (streamId === 0) return this.onStreamZero('§6.10');
        if (this.blockStream === 0) {
          return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'unexpected-continuation', type,
            `CONTINUATION frame on stream ${streamId} does not follow a HEADERS, PUSH_PROMISE or CONTINUATION frame without END_HEADERS (RFC 9113 §6.10)`);
        }
        // Local limits, checked before the payload is buffered. Both are connection
        // errors with ENHANCE_YOUR_CALM, not PROTOCOL_ERROR: the frames are valid
        // HTTP/2 (the RFC sets no bound on CONTINUATIONs), but a peer streaming an
        // unbounded field block, or many tiny/empty CONTINUATIONs, is the
        // CVE-2024-27316 "CONTINUATION flood" pattern: a load we refuse (§7, §10.5).
        // The block cannot be abandoned and the connection kept, because HPACK
        // state would desynchronise (§4.3), so the connection must go.
        if (this.blockContinuations >= this.maxContinuationFrames) {
          return this.connectionError(ErrorCode.ENHANCE_YOUR_CALM, 'too-many-continuations', type,
            `more than ${this.maxContinuationFrames} CONTINUATION frames in the field block on stream ${streamId} (CONTINUATION flood, RFC 9113 §6.10, §10.5)`);
        }
        if (this.blockSize + length > this.maxHeaderBlockSize) {
          return this.blockTooLarge(this.blockSize + length);
        }
        return true;
      default:
        return true; // unknown type: read and ignore (§4.1, §5.5)
    }
  }

  /**
   * Parse and deliver one complete frame whose payload is buf[off, off+length). `transient`: buf is
   * overwritten once push() returns, and the handler copies what it keeps of a DATA payload.
   */
  private dispatch(buf: Buffer, off: number, length: number, transient: boolean): void {
    const streamId = this.frameStream;
    const flags = this.frameFlags;
    const type = this.frameType;
    const h = this.handler;
    switch (type) {
      case FrameType.DATA: {
        let start = off;
        let end = off + length;
        if ((flags & Flag.PADDED) !== 0) {
          const padLength = buf[start++]!;
          if (padLength > end - start) { this.badPadding(padLength, end - start, '§6.1'); return; }
          end -= padLength;
        }
        const endStream = (flags & Flag.END_STREAM) !== 0;
        if (start === end && !endStream) h.onEmptyFrame(type, streamId);
        // A small payload in a large chunk is copied: kept (a call waiting, a queue, a socket's
        // unwritten bytes), a subarray would keep the whole chunk, and windows and budgets count
        // payload bytes. One byte of DATA among 64 KiB of padding or unknown frames would pin 64 KiB
        // for each byte counted; a copy under 4 KiB shares an 8 KiB slab of the reader's own. The
        // queues and the replay list, which keep DATA longest, copy again what pins more than twice
        // its size (small-chunks.ts, unpinned). A chunk that SharedReads overwrites is not copied
        // here: DATA mostly goes straight on, into the frame writer's slab (data-slabs.ts).
        const n = end - start;
        h.onData(streamId, endStream, !transient && n * 4 < buf.length ? this.copies.copy(buf, start, end) : buf.subarray(start, end), length);
        return;
      }
      case FrameType.HEADERS: {
        let start = off;
        let end = off + length;
        let padLength = 0;
        if ((flags & Flag.PADDED) !== 0) padLength = buf[start++]!;
        // §6.2, §5.3.2: the deprecated priority fields are skipped, not interpreted.
        if ((flags & Flag.PRIORITY) !== 0) start += 5;
        if (padLength > end - start) { this.badPadding(padLength, end - start, '§6.2'); return; }
        end -= padLength;
        this.fieldBlock(type, streamId, (flags & Flag.END_STREAM) !== 0, 0, buf, start, end, flags);
        return;
      }
      case FrameType.PRIORITY: {
        const word = buf.readUInt32BE(off);
        h.onPriority(streamId, word & STREAM_ID_MASK, word > STREAM_ID_MASK, buf[off + 4]! + 1);
        return;
      }
      case FrameType.RST_STREAM:
        h.onRstStream(streamId, buf.readUInt32BE(off));
        return;
      case FrameType.SETTINGS:
        if ((flags & Flag.ACK) !== 0) h.onSettingsAck();
        else this.settings(buf, off, length);
        return;
      case FrameType.PUSH_PROMISE: {
        let start = off;
        let end = off + length;
        let padLength = 0;
        if ((flags & Flag.PADDED) !== 0) padLength = buf[start++]!;
        const promised = buf.readUInt32BE(start) & STREAM_ID_MASK;
        start += 4;
        if (padLength > end - start) { this.badPadding(padLength, end - start, '§6.6'); return; }
        end -= padLength;
        this.fieldBlock(type, streamId, false, promised, buf, start, end, flags);
        return;
      }
      case FrameType.PING:
        h.onPing((flags & Flag.ACK) !== 0, buf.subarray(off, off + 8));
        return;
      case FrameType.GOAWAY:
        h.onGoaway(buf.readUInt32BE(off) & STREAM_ID_MASK, buf.readUInt32BE(off + 4), buf.subarray(off + 8, off + length));
        return;
      case FrameType.WINDOW_UPDATE: {
        const increment = buf.readUInt32BE(off) & STREAM_ID_MASK;
        if (increment === 0) {
          // §6.9: a stream error on a stream, a connection error on the connection window.
          const detail = `WINDOW_UPDATE frame on stream ${streamId} has a flow-control window increment of 0 (RFC 9113 §6.9)`;
          if (streamId === 0) this.connectionError(ErrorCode.PROTOCOL_ERROR, 'zero-window-increment', type, detail);
          else this.streamError(ErrorCode.PROTOCOL_ERROR, 'zero-window-increment', detail);
          return;
        }
        h.onWindowUpdate(streamId, increment);
        return;
      }
      case FrameType.CONTINUATION: {
        this.blockContinuations++;
        if (length > 0) {
          this.blockFragments.push(keptFragment(buf, off, off + length));
          this.blockSize += length;
        }
        if ((flags & Flag.END_HEADERS) === 0) {
          if (length === 0) h.onEmptyFrame(type, streamId);
          return;
        }
        const fragments = this.blockFragments;
        const block = fragments.length === 1 ? fragments[0]! : Buffer.concat(fragments, this.blockSize);
        const blockType = this.blockType;
        const endStream = this.blockEndStream;
        const promised = this.blockPromised;
        this.blockStream = 0;
        this.blockFragments = [];
        this.blockSize = 0;
        this.blockContinuations = 0;
        if (blockType === FrameType.HEADERS) h.onHeaders(streamId, endStream, block, 0, block.length);
        else h.onPushPromise(streamId, promised, block);
        return;
      }
      default:
        h.onUnknownFrame(type, flags, streamId, buf.subarray(off, off + length));
    }
  }

  /** The first fragment of a field block, from HEADERS or PUSH_PROMISE (§4.3). */
  private fieldBlock(type: number, streamId: number, endStream: boolean, promised: number, buf: Buffer, start: number, end: number, flags: number): void {
    const length = end - start;
    if (length > this.maxHeaderBlockSize) { this.blockTooLarge(length); return; }
    if ((flags & Flag.END_HEADERS) !== 0) {
      if (type === FrameType.HEADERS) this.handler.onHeaders(streamId, endStream, buf, start, end);
      else this.handler.onPushPromise(streamId, promised, buf.subarray(start, end));
      return;
    }
    const fragment = keptFragment(buf, start, end);
    this.blockStream = streamId;
    this.blockType = type;
    this.blockEndStream = endStream;
    this.blockPromised = promised;
    this.blockContinuations = 0;
    this.blockSize = fragment.length;
    if (fragment.length > 0) this.blockFragments.push(fragment);
    else this.handler.onEmptyFrame(type, streamId);
  }

  // §6.5, §6.5.2: validate every value before delivering any, so the connection layer
  // never applies half a SETTINGS frame.
  private settings(buf: Buffer, off: number, length: number): void {
    const out: Setting[] = [];
    for (let p = off, end = off + length; p < end; p += 6) {
      const id = buf.readUInt16BE(p);
      const value = buf.readUInt32BE(p + 2);
      switch (id) {
        case SettingId.ENABLE_PUSH:
          if (value > 1) return this.badSetting(ErrorCode.PROTOCOL_ERROR, `SETTINGS_ENABLE_PUSH value ${value} is not 0 or 1 (RFC 9113 §6.5.2)`);
          if (value === 1 && !this.isServer) {
            return this.badSetting(ErrorCode.PROTOCOL_ERROR, 'SETTINGS_ENABLE_PUSH set to 1 by a server (RFC 9113 §6.5.2)');
          }
          break;
        case SettingId.INITIAL_WINDOW_SIZE:
          if (value > MAX_WINDOW_SIZE) {
            return this.badSetting(ErrorCode.FLOW_CONTROL_ERROR, `SETTINGS_INITIAL_WINDOW_SIZE value ${value} exceeds 2^31-1 (RFC 9113 §6.5.2)`);
          }
          break;
        case SettingId.MAX_FRAME_SIZE:
          if (value < DEFAULT_MAX_FRAME_SIZE || value > MAX_ALLOWED_FRAME_SIZE) {
            return this.badSetting(ErrorCode.PROTOCOL_ERROR, `SETTINGS_MAX_FRAME_SIZE value ${value} is outside 16384..16777215 (RFC 9113 §6.5.2)`);
          }
          break;
        case SettingId.ENABLE_CONNECT_PROTOCOL:
          if (value > 1) return this.badSetting(ErrorCode.PROTOCOL_ERROR, `SETTINGS_ENABLE_CONNECT_PROTOCOL value ${value} is not 0 or 1 (RFC 8441 §3)`);
          break;
        case SettingId.HEADER_TABLE_SIZE:
        case SettingId.MAX_CONCURRENT_STREAMS:
        case SettingId.MAX_HEADER_LIST_SIZE:
          break;
        default:
          continue; // §6.5.2: unknown or unsupported identifiers are ignored
      }
      out.push({ id, value });
    }
    this.handler.onSettings(out);
  }

  private badSetting(code: number, detail: string): void {
    this.connectionError(code, 'bad-setting-value', FrameType.SETTINGS, detail);
  }

  private badPadding(padLength: number, available: number, section: string): void {
    const type = this.frameType;
    // §6.1, §6.2, §6.6: padding longer than the rest of the payload is a connection error.
    this.connectionError(ErrorCode.PROTOCOL_ERROR, 'bad-padding', type,
      `${frameTypeName(type)} frame Pad Length ${padLength} exceeds the ${available} octets after the fixed fields (RFC 9113 ${section})`);
  }

  private blockTooLarge(size: number): boolean {
    return this.connectionError(ErrorCode.ENHANCE_YOUR_CALM, 'header-block-too-large', this.frameType,
      `field block on stream ${this.frameStream} reaches ${size} octets, above the limit of ${this.maxHeaderBlockSize} (RFC 9113 §4.3, §10.5.1)`);
  }

  private onStreamZero(section: string): boolean {
    return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'bad-stream-id', this.frameType,
      `${frameTypeName(this.frameType)} frame on stream 0 (RFC 9113 ${section})`);
  }

  private onNonZeroStream(section: string): boolean {
    return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'bad-stream-id', this.frameType,
      `${frameTypeName(this.frameType)} frame on stream ${this.frameStream}, must be stream 0 (RFC 9113 ${section})`);
  }

  private fixedLength(expected: number, section: string): boolean {
    return this.connectionError(ErrorCode.FRAME_SIZE_ERROR, 'bad-frame-length', this.frameType,
      `${frameTypeName(this.frameType)} frame length ${this.frameLength} is not ${expected} (RFC 9113 ${section})`);
  }

  /** Report a connection error and stop. Always returns false (for `return this.connectionError(...)`). */
  private connectionError(code: number, reason: H2ErrorReason, type: number, detail: string): boolean {
    this.close();
    this.handler.onConnectionError(new H2ConnectionError(code, reason, type, detail));
    return false;
  }

  /**
   * Reject the current frame with a stream error before its payload is read: skip
   * the payload (never buffered) and carry on with the next frame.
   */
  private skipFrame(code: number, reason: H2ErrorReason, detail: string): boolean {
    this.skipRemaining = this.frameLength;
    if (this.frameLength > 0) this.state = SKIP;
    this.streamError(code, reason, detail);
    return false;
  }

  private streamError(code: number, reason: H2ErrorReason, detail: string): void {
    this.handler.onStreamError(new H2StreamError(code, reason, this.frameType, detail, this.frameStream, this.frameLength));
  }
}

function checkFrameSize(size: number): number {
  if (!Number.isInteger(size) || size < DEFAULT_MAX_FRAME_SIZE || size > MAX_ALLOWED_FRAME_SIZE) {
    throw new RangeError(`maxFrameSize ${size} is outside 16384..16777215 (RFC 9113 §4.2)`);
  }
  return size;
}

function describe(type: number, flags: number): string {
  return type === FrameType.SETTINGS && (flags & Flag.ACK) !== 0 ? 'SETTINGS with ACK' : frameTypeName(type);
}

function hex2(b: number): string {
  return b.toString(16).padStart(2, '0');
}

/**
 * A fragment of a field block kept until END_HEADERS: copied, so that it holds its own bytes and not
 * the socket read around it (a 1-byte fragment at the end of a 64 KiB read kept the whole read).
 */
function keptFragment(buf: Buffer, start: number, end: number): Buffer {
  // Not Buffer.from: under 4 KiB it copies into Node's shared 8 KiB pool, whose block the fragment would keep.
  const out = Buffer.allocUnsafeSlow(end - start);
  buf.copy(out, 0, start, end);
  return out;
}
