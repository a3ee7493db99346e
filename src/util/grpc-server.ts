import * as grpc from '@grpc/grpc-js';

/**
 * What the project's own grpc-js services (the grpclb balancer, the xDS control plane) share: how
 * they end a stream (how they listen: grpc-listener.ts).
 */

/** End a server stream: OK half-closes it cleanly, any other status ends it with `details`. */
export function endServerStream(call: grpc.ServerDuplexStream<unknown, unknown>, code: grpc.status, details: string): void {
  if (code === grpc.status.OK) call.end();
  else call.emit('error', { code, details });
}
