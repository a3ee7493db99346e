import type { H2Stream } from '../h2/stream.js';
import type { FieldInput } from '../h2/hpack/index.js';
import { STATUS_STRINGS, Status, encodeMessage } from './grpc.js';

/** The plain HTTP status a router error becomes for a request that is not gRPC. */
const HTTP_FOR_STATUS: Record<number, number> = {
  [Status.INVALID_ARGUMENT]: 400,
  [Status.UNIMPLEMENTED]: 404,
  [Status.DEADLINE_EXCEEDED]: 504,
  [Status.UNAVAILABLE]: 502,
  [Status.FAILED_PRECONDITION]: 508,
  [Status.CANCELLED]: 499,
  [Status.RESOURCE_EXHAUSTED]: 503,
};

/**
 * The router's own answer on a stream that has sent no response headers yet: a gRPC request gets a
 * trailers-only answer with `status` and `message` (and `l5d-err` when `l5dErr`), anything else a
 * plain HTTP error (`httpStatus`, default the status's mapping) with the message as its body.
 * Returns the HTTP status sent.
 */
export function answerError(stream: H2Stream, grpc: boolean, status: number, message: string, l5dErr: boolean, httpStatus?: number): number {
  const m = encodeMessage(message);
  if (grpc) {
    const fields: FieldInput[] = [[':status', '200'], ['content-type', 'application/grpc'], ['grpc-status', STATUS_STRINGS[status]!], ['grpc-message', m]];
    if (l5dErr) fields.push(['l5d-err', m]);
    stream.sendHeaders(fields, true);
    return 200;
  }
  const code = httpStatus ?? HTTP_FOR_STATUS[status] ?? 502;
  stream.sendHeaders([[':status', String(code)], ['content-type', 'text/plain; charset=utf-8'], ['l5d-err', m]], false);
  stream.write(Buffer.from(message + '\n', 'utf8'), true);
  return code;
}
