import * as grpc from '@grpc/grpc-js';
import { echoService, type EchoRequest, type EchoResponse } from './proto.js';

export interface EchoClient {
  echo(message: string, options?: { metadata?: grpc.Metadata; deadlineMs?: number }): Promise<EchoResponse>;
  close(): void;
  readonly raw: grpc.Client;
}

/** A grpc-js client for the echo service over one plaintext HTTP/2 connection. */
export function echoClient(target: string, channelOptions: grpc.ChannelOptions = {}): EchoClient {
  const Ctor = echoService();
  const client = new Ctor(target, grpc.credentials.createInsecure(), channelOptions);
  return {
    raw: client,
    echo(message, options = {}) {
      return new Promise((resolve, reject) => {
        const callOptions: grpc.CallOptions = {};
        if (options.deadlineMs !== undefined) callOptions.deadline = Date.now() + options.deadlineMs;
        (client as unknown as {
          echo(req: EchoRequest, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: EchoResponse) => void): void;
        }).echo({ message }, options.metadata ?? new grpc.Metadata(), callOptions, (err, res) => (err ? reject(err) : resolve(res)));
      });
    },
    close: () => client.close(),
  };
}
