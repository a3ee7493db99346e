/**
 * HPACK (RFC 7541) for the own HTTP/2 engine: a decoder that tells a bad block (HpackError,
 * a connection error) from a block that is merely over the header list limit (refuse the
 * stream, keep the connection), and an encoder with static/dynamic indexing and Huffman.
 */
export { HpackError } from './errors.js';
export {
  HpackDecoder,
  DECODE_OK,
  DECODE_HEADER_LIST_TOO_LARGE,
  type DecodeOutcome,
  type HpackDecoderOptions,
} from './decoder.js';
export { HpackEncoder, type HpackEncoderOptions, type HuffmanPolicy } from './encoder.js';
export type { FieldInput } from './header-list.js';
export { HeaderList, FIELD_NEVER_INDEXED, FIELD_NAME_UPPERCASE, FIELD_NO_INDEX, FIELD_VALUE_FORBIDDEN, type FieldSink } from './header-list.js';
export { DynamicTable, ENTRY_OVERHEAD } from './dynamic-table.js';
export { STATIC_TABLE_LENGTH, STATIC_NAMES, STATIC_VALUES } from './static-table.js';
export {
  huffmanEncode,
  huffmanDecode,
  huffmanEncodedLength,
  huffmanEncodeInto,
  huffmanDecodeInto,
  huffmanMaxDecodedLength,
} from './huffman.js';
export { decodeInteger, encodeInteger, integerLength, MAX_INTEGER, type IntegerCursor } from './integer.js';
