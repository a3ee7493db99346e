import * as grpc from '@grpc/grpc-js';

/**
 * What the project's own grpc-js services (the grpclb balancer, the xDS control plane) share: how
 * they listen and how they end a stream.
 */

/** Listen on `ip:port` in plaintext (port 0: any free port); the port bound, or a rejection naming `what` and the address. */
export function listenPlaintext(server: grpc.Server, ip: string, port: number, what: string): Promise<number> {
  const host = ip.includes(':') ? `[${ip}]` : ip;
  return new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(new Error(`${what}: cannot listen on ${host}:${port}: ${err.message}`)) : resolve(p))),
  );
}

/** End a server stream: OK half-closes it cleanly, any other status ends it with `details`. */
export function endServerStream(call: grpc.ServerDuplexStream<unknown, unknown>, code: grpc.status, details: string): void {
  if (code === grpc.status.OK) call.end();
  else call.emit('error', { code, details });
}
