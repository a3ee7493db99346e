import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';

// The .proto is read from the source tree (dist/examples/echo -> examples/echo) so it is never copied.
export const ECHO_PROTO = fileURLToPath(new URL('../../../examples/echo/echo.proto', import.meta.url));

export interface EchoRequest {
  message: string;
}
export interface EchoResponse {
  message: string;
  from: string;
}

// grpc-js builds client and service definitions from the loaded package at run time.
type ServiceClientCtor = grpc.ServiceClientConstructor & { service: grpc.ServiceDefinition };

let loaded: ServiceClientCtor | undefined;

export function echoService(): ServiceClientCtor {
  if (!loaded) {
    const definition = protoLoader.loadSync(ECHO_PROTO, { keepCase: true, defaults: true });
    const pkg = grpc.loadPackageDefinition(definition) as unknown as {
      com: { example: { grpc: { EchoService: ServiceClientCtor } } };
    };
    loaded = pkg.com.example.grpc.EchoService;
  }
  return loaded;
}
