import * as grpc from '@grpc/grpc-js';
import { echoService, type EchoRequest, type EchoResponse } from './proto.js';

export interface EchoServer {
  /** `host:port` the server listens on; it answers this in `from`. */
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Start the seed's echo server: `echo` answers the request's message and its own address in `from`. */
export async function startEchoServer(options: { host?: string; port?: number; name?: string } = {}): Promise<EchoServer> {
  const host = options.host ?? '127.0.0.1';
  const server = new grpc.Server();
  let address = '';
  server.addService(echoService().service, {
    echo(call: grpc.ServerUnaryCall<EchoRequest, EchoResponse>, callback: grpc.sendUnaryData<EchoResponse>) {
      callback(null, { message: call.request.message, from: options.name ?? address });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host.includes(':') ? `[${host}]` : host}:${options.port ?? 0}`, grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  return {
    address,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        // A server with streams still open never finishes tryShutdown; force it after a moment.
        setTimeout(() => server.forceShutdown(), 2000).unref();
      }),
  };
}
