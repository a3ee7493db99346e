import { Status } from './grpc.js';

/**
 * Why the router answered a stream itself, with the gRPC status it answers: one label set for
 * `kgr_router_errors_total{reason}`, for the `l5d-err` header, and for the dashboard's account of
 * where calls fail. `endpoint`'s status depends on what the endpoint did (a reset's code, a lost
 * connection), so it has none here.
 */
export const ERROR_REASONS = {
  loop: Status.FAILED_PRECONDITION,
  'bad dtab': Status.INVALID_ARGUMENT,
  unidentified: Status.UNIMPLEMENTED,
  'binding timeout': Status.UNAVAILABLE,
  'binding failed': Status.UNAVAILABLE,
  'no route': Status.UNAVAILABLE,
  'too many clients': Status.RESOURCE_EXHAUSTED,
  'no endpoints': Status.UNAVAILABLE,
  connect: Status.UNAVAILABLE,
  endpoint: undefined,
} as const satisfies Record<string, Status | undefined>;

export type ErrorReason = keyof typeof ERROR_REASONS;

export const ERROR_REASON_NAMES = Object.keys(ERROR_REASONS) as ErrorReason[];
