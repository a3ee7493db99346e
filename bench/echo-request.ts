/** The unary request every bench load sends: a gRPC-framed EchoRequest{message: "hello"} (flag 0, length 7, protobuf bytes). */
export const ECHO_REQUEST: Buffer = Buffer.from([0, 0, 0, 0, 7, 0x0a, 0x05, 0x68, 0x65, 0x6c, 0x6c, 0x6f]);
