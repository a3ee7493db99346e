/** The unary request every bench load sends: a gRPC-framed EchoRequest{message: "hello"} (flag 0, length 7, protobuf bytes). */
export const ECHO_REQUEST: Buffer = Buffer.from([0, 0, 0, 0, 7, 0x0a, 0x05, 0x68, 0x65, 0x6c, 0x6c, 0x6f]);

/** Its headers, for node:http2 clients (h2load is given the same on its command line). */
export const ECHO_REQUEST_HEADERS = { ':method': 'POST', ':path': '/bench.Echo/Unary', 'content-type': 'application/grpc', te: 'trailers' } as const;
