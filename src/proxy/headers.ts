import type { IncomingHttpHeaders } from 'node:http2';

/**
 * HTTP/2 forbids connection-specific headers (RFC 9113 §8.2.2) and Node refuses to send them, so a
 * header block is cleaned before it is forwarded. Checked by lookup, not by iterating every header.
 */
export function stripConnectionHeaders(headers: IncomingHttpHeaders): void {
  if (headers['connection'] !== undefined) delete headers['connection'];
  if (headers['keep-alive'] !== undefined) delete headers['keep-alive'];
  if (headers['proxy-connection'] !== undefined) delete headers['proxy-connection'];
  if (headers['transfer-encoding'] !== undefined) delete headers['transfer-encoding'];
  if (headers['upgrade'] !== undefined) delete headers['upgrade'];
  if (headers['http2-settings'] !== undefined) delete headers['http2-settings'];
  const te = headers['te'];
  if (te !== undefined && te !== 'trailers') delete headers['te'];
}
