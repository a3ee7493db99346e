import * as http2 from 'node:http2';
import { readFileSync } from 'node:fs';

/**
 * The benchmark's endpoint: a gRPC echo that never decodes protobuf (each request DATA chunk is
 * written straight back, then `grpc-status: 0`), so the endpoint is never the bottleneck and
 * direct and routed runs measure the same thing. Unary and bidi ping-pong both work: a message in,
 * the same bytes out.
 *
 * Usage: node dist/bench/backend.js <port>   (prints `listening <port>`)
 * With BENCH_TLS_CERT and BENCH_TLS_KEY set, it serves TLS (ALPN h2) instead of h2c (the TLS row).
 */
const port = Number(process.argv[2] ?? 0);
const options = {
  settings: { initialWindowSize: 1 << 20, maxConcurrentStreams: 10_000 },
  maxSessionMemory: 64,
  noDelay: true,
} as http2.SecureServerOptions;
const tlsCert = process.env['BENCH_TLS_CERT'];
const tlsKey = process.env['BENCH_TLS_KEY'];
const server =
  tlsCert && tlsKey
    ? http2.createSecureServer({ ...options, cert: readFileSync(tlsCert), key: readFileSync(tlsKey) })
    : http2.createServer(options as http2.ServerOptions);
const TRAILERS = { 'grpc-status': '0' };
const HEADERS = { ':status': 200, 'content-type': 'application/grpc' };
server.on('stream', (stream) => {
  stream.on('error', () => {});
  // A stream the proxy reset as it opened (the load generator stopping) arrives destroyed.
  if (stream.destroyed) return;
  stream.respond(HEADERS, { waitForTrailers: true });
  stream.on('wantTrailers', () => stream.sendTrailers(TRAILERS));
  stream.on('data', (chunk: Buffer) => {
    if (!stream.write(chunk)) {
      stream.pause();
      stream.once('drain', () => stream.resume());
    }
  });
  stream.on('end', () => stream.end());
});
server.on('session', (s) => s.on('error', () => {}));
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.address() as { port: number }).port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
