// HTTP/2 wire constants (RFC 9113). Plain numeric objects rather than TS enums so
// the emitted JS is ordinary constants that V8 can fold, and so other modules
// (HPACK, the connection state machine) can share them without a runtime cost.

/** The client connection preface, RFC 9113 §3.4: `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n` (24 octets). */
export const CLIENT_PREFACE: Buffer = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** Every frame starts with a fixed 9-octet header (RFC 9113 §4.1). */
export const FRAME_HEADER_LENGTH = 9;

/** Frame types, RFC 9113 §6. Types not listed here must be ignored (§4.1, §5.5). */
export const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;
export type FrameTypeName = keyof typeof FrameType;

const FRAME_TYPE_NAMES: readonly string[] = [
  'DATA', 'HEADERS', 'PRIORITY', 'RST_STREAM', 'SETTINGS',
  'PUSH_PROMISE', 'PING', 'GOAWAY', 'WINDOW_UPDATE', 'CONTINUATION',
];

/** `DATA`, `HEADERS`, … or `UNKNOWN(0x2a)` for extension frame types. */
export function frameTypeName(type: number): string {
  return FRAME_TYPE_NAMES[type] ?? `UNKNOWN(0x${type.toString(16)})`;
}

/**
 * Frame flags, RFC 9113 §6. The same bit means different things per frame type
 * (0x1 is END_STREAM on DATA/HEADERS and ACK on SETTINGS/PING), hence the aliases.
 * Flags not defined for a frame type must be ignored on receipt (§4.1).
 */
export const Flag = {
  END_STREAM: 0x1,
  ACK: 0x1,
  END_HEADERS: 0x4,
  PADDED: 0x8,
  PRIORITY: 0x20,
} as const;

/** Error codes, RFC 9113 §7. Unknown codes must not trigger special behaviour. */
export const ErrorCode = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  SETTINGS_TIMEOUT: 0x4,
  STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  CONNECT_ERROR: 0xa,
  ENHANCE_YOUR_CALM: 0xb,
  INADEQUATE_SECURITY: 0xc,
  HTTP_1_1_REQUIRED: 0xd,
} as const;
export type ErrorCodeName = keyof typeof ErrorCode;

const ERROR_CODE_NAMES: readonly string[] = [
  'NO_ERROR', 'PROTOCOL_ERROR', 'INTERNAL_ERROR', 'FLOW_CONTROL_ERROR', 'SETTINGS_TIMEOUT',
  'STREAM_CLOSED', 'FRAME_SIZE_ERROR', 'REFUSED_STREAM', 'CANCEL', 'COMPRESSION_ERROR',
  'CONNECT_ERROR', 'ENHANCE_YOUR_CALM', 'INADEQUATE_SECURITY', 'HTTP_1_1_REQUIRED',
];

/** `PROTOCOL_ERROR`, … or `UNKNOWN_ERROR(0x…)`: a peer may send codes we don't know (§7). */
export function errorCodeName(code: number): string {
  return ERROR_CODE_NAMES[code] ?? `UNKNOWN_ERROR(0x${code.toString(16)})`;
}

/**
 * SETTINGS parameter identifiers, RFC 9113 §6.5.2, plus ENABLE_CONNECT_PROTOCOL
 * (RFC 8441 §3). Unknown identifiers must be ignored (§6.5.2).
 */
export const SettingId = {
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
  MAX_HEADER_LIST_SIZE: 0x6,
  ENABLE_CONNECT_PROTOCOL: 0x8,
} as const;
export type SettingIdName = keyof typeof SettingId;

/** Initial values of the SETTINGS parameters before any SETTINGS is received (§6.5.2). */
export const DEFAULT_HEADER_TABLE_SIZE = 4096;
export const DEFAULT_ENABLE_PUSH = 1;
export const DEFAULT_INITIAL_WINDOW_SIZE = 65_535;
/** Also the minimum a peer may advertise for SETTINGS_MAX_FRAME_SIZE (§6.5.2). */
export const DEFAULT_MAX_FRAME_SIZE = 16_384;
/** Largest SETTINGS_MAX_FRAME_SIZE: 2^24-1, the most a 24-bit length can express (§4.1, §6.5.2). */
export const MAX_ALLOWED_FRAME_SIZE = 16_777_215;
/** Largest flow-control window and largest SETTINGS_INITIAL_WINDOW_SIZE: 2^31-1 (§6.9.1, §6.5.2). */
export const MAX_WINDOW_SIZE = 2_147_483_647;
/** Stream identifiers are 31 bits; the high (reserved) bit is ignored on receipt (§4.1, §5.1.1). */
export const MAX_STREAM_ID = 2_147_483_647;
