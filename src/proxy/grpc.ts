/**
 * gRPC-over-HTTP/2 wire facts the proxy needs: status codes, `grpc-timeout` syntax, the
 * percent-encoding of `grpc-message`, and how an upstream RST_STREAM code becomes a gRPC status
 * (grpc/grpc PROTOCOL-HTTP2.md; grpc-go's http2ErrConvTab for the codes the spec leaves open).
 */
export const enum Status {
  OK = 0,
  CANCELLED = 1,
  UNKNOWN = 2,
  INVALID_ARGUMENT = 3,
  DEADLINE_EXCEEDED = 4,
  NOT_FOUND = 5,
  ALREADY_EXISTS = 6,
  PERMISSION_DENIED = 7,
  RESOURCE_EXHAUSTED = 8,
  FAILED_PRECONDITION = 9,
  ABORTED = 10,
  OUT_OF_RANGE = 11,
  UNIMPLEMENTED = 12,
  INTERNAL = 13,
  UNAVAILABLE = 14,
  DATA_LOSS = 15,
  UNAUTHENTICATED = 16,
}

export const STATUS_NAMES: readonly string[] = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
];

/** Decimal status strings, so answering a status never formats a number. */
export const STATUS_STRINGS: readonly string[] = STATUS_NAMES.map((_, i) => String(i));

/** A `grpc-status` header value as a code; anything unparsable is UNKNOWN (what grpc-js does). */
export function parseStatus(value: string | string[] | undefined): number {
  if (value === undefined) return -1;
  const s = typeof value === 'string' ? value : value[0]!;
  if (s.length === 1) {
    const c = s.charCodeAt(0) - 48;
    if (c >= 0 && c <= 9) return c;
  } else if (s.length === 2 && s.charCodeAt(0) === 49) {
    const c = s.charCodeAt(1) - 48;
    if (c >= 0 && c <= 6) return 10 + c;
  }
  return Status.UNKNOWN;
}

const UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };

/** `grpc-timeout` (`1-8 digits` + `H|M|S|m|u|n`) in milliseconds, or undefined when malformed. */
export function parseTimeout(value: string | string[] | undefined): number | undefined {
  if (value === undefined) return undefined;
  const s = typeof value === 'string' ? value : value[0]!;
  const n = s.length - 1;
  if (n < 1 || n > 8) return undefined;
  const unit = UNIT_MS[s[n]!];
  if (unit === undefined) return undefined;
  let v = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return undefined;
    v = v * 10 + c;
  }
  return v * unit;
}

/** A remaining budget as `grpc-timeout`: the finest unit whose value fits in 8 digits (rounded up). */
export function encodeTimeout(ms: number): string {
  if (ms <= 0) return '0n';
  const us = Math.ceil(ms * 1000);
  if (us < 1e8) return us + 'u';
  const m = Math.ceil(ms);
  if (m < 1e8) return m + 'm';
  const sec = Math.ceil(ms / 1000);
  if (sec < 1e8) return sec + 'S';
  const min = Math.ceil(ms / 60_000);
  if (min < 1e8) return min + 'M';
  return Math.min(99_999_999, Math.ceil(ms / 3_600_000)) + 'H';
}

/** Percent-encode a `grpc-message` (and `l5d-err`): bytes outside 0x20–0x7E and `%` itself. */
export function encodeMessage(message: string): string {
  let plain = true;
  for (let i = 0; i < message.length; i++) {
    const c = message.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x25) {
      plain = false;
      break;
    }
  }
  if (plain) return message;
  let out = '';
  for (const byte of Buffer.from(message, 'utf8')) {
    out += byte < 0x20 || byte > 0x7e || byte === 0x25 ? '%' + byte.toString(16).toUpperCase().padStart(2, '0') : String.fromCharCode(byte);
  }
  return out;
}

/** The status an upstream RST_STREAM becomes (REFUSED_STREAM is retried before we get here). */
export function statusForReset(code: number): number {
  switch (code) {
    case 7: // REFUSED_STREAM: nothing processed
      return Status.UNAVAILABLE;
    case 8: // CANCEL: a reset the endpoint sent (the caller maps a lost connection to UNAVAILABLE first)
      return Status.CANCELLED;
    case 3: // FLOW_CONTROL_ERROR (grpc-go)
    case 11: // ENHANCE_YOUR_CALM
      return Status.RESOURCE_EXHAUSTED;
    case 12: // INADEQUATE_SECURITY
      return Status.PERMISSION_DENIED;
    default:
      return Status.INTERNAL;
  }
}

/**
 * An endpoint's RST_STREAM code that says the request was at fault (malformed, too many fields, or
 * cancelled), not the endpoint.
 */
export function resetBlamesRequest(code: number): boolean {
  switch (code) {
    case 1: // PROTOCOL_ERROR: e.g. content-length that the DATA do not match
    case 5: // STREAM_CLOSED
    case 6: // FRAME_SIZE_ERROR
    case 8: // CANCEL
    case 11: // ENHANCE_YOUR_CALM: e.g. more header fields than the endpoint takes
      return true;
    default:
      return false;
  }
}

/** True for `content-type: application/grpc` and its `+proto`/`;…` variants. */
export function isGrpcContentType(value: string | string[] | undefined): boolean {
  if (typeof value !== 'string') return false;
  return value.startsWith('application/grpc') && (value.length === 16 || value[16] === '+' || value[16] === ';');
}
