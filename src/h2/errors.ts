// Errors the frame reader reports. RFC 9113 §5.4 distinguishes connection errors
// (the whole connection is unusable: send GOAWAY and close, §5.4.1) from stream
// errors (only one stream is affected: send RST_STREAM, §5.4.2). The reader never
// throws these: it hands them to the handler, so one bad peer cannot unwind the
// socket's 'data' callback, and the connection layer decides what to send.

import { errorCodeName, frameTypeName } from './constants.js';

/**
 * Why a frame was rejected, as a short stable identifier: a bounded label set the
 * connection layer can count in /metrics without parsing messages.
 */
export type H2ErrorReason =
  | 'bad-preface'              // §3.4: the 24 octets are not the client preface
  | 'first-frame-not-settings' // §3.4: the peer's preface must start with SETTINGS
  | 'frame-too-large'          // §4.2: length > our SETTINGS_MAX_FRAME_SIZE
  | 'bad-frame-length'         // §6.x: a frame type's fixed or minimum length is wrong
  | 'bad-stream-id'            // §6.x, §5.1.1: frame on stream 0 or on a stream it may not use
  | 'bad-padding'              // §6.1, §6.2, §6.6: Pad Length covers more than the frame
  | 'bad-setting-value'        // §6.5.2: a SETTINGS value out of range
  | 'zero-window-increment'    // §6.9: WINDOW_UPDATE with increment 0
  | 'continuation-expected'    // §6.10, §4.3: another frame interrupted a field block
  | 'unexpected-continuation'  // §6.10: CONTINUATION without an open field block
  | 'push-promise-received'    // §8.4: a client cannot push, so a server never accepts PUSH_PROMISE
  | 'header-block-too-large'   // local limit: accumulated field block above maxHeaderBlockSize
  | 'too-many-continuations';  // local limit: CONTINUATION flood (CVE-2024-27316 class)

/** Common shape of both error scopes. */
export abstract class H2Error extends Error {
  abstract readonly scope: 'connection' | 'stream';
  /** Frame type that carried the violation (may be an unknown/extension type). */
  readonly frameType: number;

  constructor(
    /** RFC 9113 §7 error code to send in GOAWAY or RST_STREAM. */
    readonly code: number,
    readonly reason: H2ErrorReason,
    frameType: number,
    /** Human-readable rule, e.g. `SETTINGS frame length 7 is not a multiple of 6 (RFC 9113 §6.5)`. */
    detail: string,
  ) {
    super(`${errorCodeName(code)}: ${detail}`);
    this.frameType = frameType;
  }

  get codeName(): string { return errorCodeName(this.code); }
  get frameTypeName(): string { return frameTypeName(this.frameType); }
}

/**
 * A connection error (§5.4.1): the reader has stopped and accepts no more input.
 * The connection layer sends GOAWAY with `code` and closes.
 */
export class H2ConnectionError extends H2Error {
  readonly scope = 'connection' as const;
  override readonly name = 'H2ConnectionError';
}

/**
 * A stream error (§5.4.2): the frame was discarded and reading continues. The
 * connection layer sends RST_STREAM(`streamId`, `code`); it may escalate to a
 * connection error when the stream state makes that necessary (e.g. the stream is
 * idle, where RST_STREAM may not be sent, §6.4), as §5.4 allows.
 *
 * `frameLength` is the full payload length of the discarded frame: for DATA it
 * must still be charged to the connection flow-control window (§6.9), or the two
 * ends' views of the window drift apart.
 */
export class H2StreamError extends H2Error {
  readonly scope = 'stream' as const;
  override readonly name = 'H2StreamError';

  constructor(
    code: number,
    reason: H2ErrorReason,
    frameType: number,
    detail: string,
    readonly streamId: number,
    readonly frameLength: number,
  ) {
    super(code, reason, frameType, detail);
  }
}
