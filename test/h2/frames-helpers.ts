// Test helpers for the frame codec: a handler that records what the reader
// delivers as plain data, and a builder for raw frames with exact bytes.

import {
  CLIENT_PREFACE, FrameReader, FrameType, writeFrameHeader,
  type FrameHandler, type FrameReaderOptions, type H2ConnectionError, type H2StreamError, type Setting,
} from '../../src/h2/frames.js';

export type Event =
  | { kind: 'data'; streamId: number; endStream: boolean; data: string; flowControlLength: number }
  | { kind: 'headers'; streamId: number; endStream: boolean; block: string }
  | { kind: 'priority'; streamId: number; dependency: number; exclusive: boolean; weight: number }
  | { kind: 'rst'; streamId: number; errorCode: number }
  | { kind: 'settings'; settings: Setting[] }
  | { kind: 'settings-ack' }
  | { kind: 'push-promise'; streamId: number; promisedStreamId: number; block: string }
  | { kind: 'ping'; ack: boolean; opaque: string }
  | { kind: 'goaway'; lastStreamId: number; errorCode: number; debug: string }
  | { kind: 'window-update'; streamId: number; increment: number }
  | { kind: 'unknown'; type: number; flags: number; streamId: number; payload: string }
  | { kind: 'empty'; type: number; streamId: number };

/** Records frames as plain data (buffers as hex) so tests can deepEqual them. */
export class Recorder implements FrameHandler {
  events: Event[] = [];
  streamErrors: H2StreamError[] = [];
  connectionErrors: H2ConnectionError[] = [];
  /** Largest header block delivered (for the fuzz property). */
  maxBlock = 0;

  onData(streamId: number, endStream: boolean, data: Buffer, flowControlLength: number): void {
    this.events.push({ kind: 'data', streamId, endStream, data: data.toString('hex'), flowControlLength });
  }
  onHeaders(streamId: number, endStream: boolean, buf: Buffer, start: number, end: number): void {
    const block = buf.subarray(start, end);
    this.maxBlock = Math.max(this.maxBlock, block.length);
    this.events.push({ kind: 'headers', streamId, endStream, block: block.toString('hex') });
  }
  onPriority(streamId: number, dependency: number, exclusive: boolean, weight: number): void {
    this.events.push({ kind: 'priority', streamId, dependency, exclusive, weight });
  }
  onRstStream(streamId: number, errorCode: number): void {
    this.events.push({ kind: 'rst', streamId, errorCode });
  }
  onSettings(settings: Setting[]): void {
    this.events.push({ kind: 'settings', settings: settings.map(({ id, value }) => ({ id, value })) });
  }
  onSettingsAck(): void {
    this.events.push({ kind: 'settings-ack' });
  }
  onPushPromise(streamId: number, promisedStreamId: number, block: Buffer): void {
    this.maxBlock = Math.max(this.maxBlock, block.length);
    this.events.push({ kind: 'push-promise', streamId, promisedStreamId, block: block.toString('hex') });
  }
  onPing(ack: boolean, opaque: Buffer): void {
    this.events.push({ kind: 'ping', ack, opaque: opaque.toString('hex') });
  }
  onGoaway(lastStreamId: number, errorCode: number, debugData: Buffer): void {
    this.events.push({ kind: 'goaway', lastStreamId, errorCode, debug: debugData.toString('hex') });
  }
  onWindowUpdate(streamId: number, increment: number): void {
    this.events.push({ kind: 'window-update', streamId, increment });
  }
  onUnknownFrame(type: number, flags: number, streamId: number, payload: Buffer): void {
    this.events.push({ kind: 'unknown', type, flags, streamId, payload: payload.toString('hex') });
  }
  onEmptyFrame(type: number, streamId: number): void {
    this.events.push({ kind: 'empty', type, streamId });
  }
  onStreamError(error: H2StreamError): void {
    this.streamErrors.push(error);
  }
  onConnectionError(error: H2ConnectionError): void {
    this.connectionErrors.push(error);
  }
}

/** One frame with exact bytes: 9-octet header + payload. */
export function rawFrame(type: number, flags: number, streamId: number, payload: Buffer | number[] = []): Buffer {
  const body = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  const out = Buffer.alloc(9 + body.length);
  writeFrameHeader(out, 0, body.length, type, flags, streamId >>> 0);
  body.copy(out, 9);
  return out;
}

/** Like rawFrame but with a length field that disagrees with the payload (or no payload). */
export function frameHeader(length: number, type: number, flags: number, streamId: number): Buffer {
  const out = Buffer.alloc(9);
  writeFrameHeader(out, 0, length, type, flags, streamId >>> 0);
  return out;
}

/** The client's opening: preface plus an empty SETTINGS frame (§3.4). */
export const OPENING: Buffer = Buffer.concat([CLIENT_PREFACE, rawFrame(FrameType.SETTINGS, 0, 0)]);

/** A server-role reader that has already consumed OPENING, with its recorder cleared. */
export function openedReader(options: FrameReaderOptions = {}): { reader: FrameReader; rec: Recorder } {
  const rec = new Recorder();
  const reader = new FrameReader(rec, options);
  if ((options.role ?? 'server') === 'server') reader.push(OPENING);
  else reader.push(rawFrame(FrameType.SETTINGS, 0, 0));
  rec.events = [];
  return { reader, rec };
}

/** Feed `bytes` split at the given cut points (sorted, deduplicated internally). */
export function feedSplit(reader: FrameReader, bytes: Buffer, cuts: number[]): void {
  const points = [...new Set(cuts.filter((c) => c > 0 && c < bytes.length))].sort((a, b) => a - b);
  let prev = 0;
  for (const p of points) {
    // Copy each piece so nothing aliases across chunks by accident.
    reader.push(Buffer.from(bytes.subarray(prev, p)));
    prev = p;
  }
  reader.push(Buffer.from(bytes.subarray(prev)));
}

export function hex(s: string): string {
  return Buffer.from(s).toString('hex');
}
