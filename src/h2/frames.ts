// The HTTP/2 frame codec (RFC 9113 §4, §6) in one import: wire constants, the
// streaming reader with its handler interface, the batching writer, and the
// errors the reader reports. HPACK (src/h2/hpack/) and the connection state
// machine build on this; the codec itself knows nothing of streams' states.

export * from './constants.js';
export * from './errors.js';
export * from './frame-reader.js';
export * from './frame-writer.js';
