/**
 * How decoded fields reach the caller, and the per-field flags that travel with them.
 * The decoder calls a FieldSink once per field, so a caller can build its own structure
 * (gRPC metadata, a forwarding list) without an intermediate array of pairs.
 */

/** Encoder input: [name, value, flags?]; flags are FIELD_NEVER_INDEXED / FIELD_NO_INDEX. */
export type FieldInput = readonly [name: string, value: string, flags?: number];

/** The field was a "literal never indexed" (RFC 7541 §6.2.3): a proxy must forward it the same way (§7.1.3). */
export const FIELD_NEVER_INDEXED = 1;
/** The name has an octet in 'A'..'Z'; RFC 9113 §8.2.1 makes such a request malformed. Set by the decoder. */
export const FIELD_NAME_UPPERCASE = 2;
/** Encoder input only: send as a literal without indexing (§6.2.2) rather than adding it to the table. */
export const FIELD_NO_INDEX = 4;
/** The value has a NUL, CR or LF octet; RFC 9113 §8.2.1 makes such a field malformed. Set by the decoder. */
export const FIELD_VALUE_FORBIDDEN = 8;
/** What the decoder finds in a literal's octets, kept with its table entry so an indexed field is not scanned again. */
export const FIELD_OCTET_FLAGS = FIELD_NAME_UPPERCASE | FIELD_VALUE_FORBIDDEN;

export interface FieldSink {
  /** Names and values are latin1 strings, one char per octet. */
  onField(name: string, value: string, flags: number): void;
}

/**
 * A reusable list of fields in parallel arrays. reset() keeps the arrays, so one list per
 * connection decodes every block without reallocating.
 */
export class HeaderList implements FieldSink {
  readonly names: string[] = [];
  readonly values: string[] = [];
  readonly flags: number[] = [];
  length = 0;

  onField(name: string, value: string, flags: number): void {
    const i = this.length++;
    this.names[i] = name;
    this.values[i] = value;
    this.flags[i] = flags;
  }

  reset(): void {
    // Drop references so big strings of the last block do not outlive it.
    for (let i = 0; i < this.length; i++) {
      this.names[i] = '';
      this.values[i] = '';
    }
    this.length = 0;
  }

  /**
   * A copy as encoder input, never-indexed kept (RFC 7541 §7.1.3): for a block that must outlive
   * the list (trailers waiting behind data, a request kept for a replay).
   */
  copyFields(): FieldInput[] {
    const out: FieldInput[] = new Array(this.length);
    for (let i = 0; i < this.length; i++) {
      const f = this.flags[i]! & FIELD_NEVER_INDEXED;
      out[i] = f === 0 ? [this.names[i]!, this.values[i]!] : [this.names[i]!, this.values[i]!, f];
    }
    return out;
  }

  /** [name, value] pairs, mainly for tests. */
  toArray(): [string, string][] {
    const out: [string, string][] = [];
    for (let i = 0; i < this.length; i++) out.push([this.names[i]!, this.values[i]!]);
    return out;
  }
}
