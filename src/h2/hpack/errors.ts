/**
 * The one error type HPACK decoding throws. In HTTP/2 any HPACK decoding failure is a
 * connection error of type COMPRESSION_ERROR (RFC 9113 §4.3): once one block is not
 * understood, the two dynamic tables can no longer be assumed to agree.
 */
export class HpackError extends Error {
  /** The HTTP/2 error code the connection must be closed with (RFC 9113 §7). */
  readonly h2Code = 0x9; // COMPRESSION_ERROR
  /** Byte offset in the header block where the offending representation or octet starts. */
  readonly offset: number;

  constructor(readonly detail: string, offset: number) {
    super(`HPACK: ${detail} (at byte ${offset})`);
    this.name = 'HpackError';
    this.offset = offset;
  }

  /** The same error with its offset counted from `base` (a block decoded in place within a larger buffer). */
  rebased(base: number): HpackError {
    return new HpackError(this.detail, this.offset - base);
  }
}
