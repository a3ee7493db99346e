import * as http2 from 'node:http2';

/**
 * The floor: the least a node:http2 proxy can do per gRPC stream, measured by the same method as
 * the router so the bench shows how much of the router's cost is Node's http2 layer. One session to
 * the endpoint, request headers forwarded as received, bytes piped with `write`, trailers with
 * `waitForTrailers`; no routing, balancing, deadlines, retries, metrics or error answers, and no
 * backpressure (fine for the bench's small messages, wrong for a product). It runs with the router's
 * node flags: it shows what the data plane would cost had it stayed on node:http2 (issue 11).
 *
 * Usage: node dist/bench/floor-proxy.js <endpointPort>   (prints `listening <port>`)
 */
const endpoint = Number(process.argv[2]);
const server = http2.createServer({ settings: { initialWindowSize: 1 << 20, maxConcurrentStreams: 1000 }, maxSessionMemory: 64 });
const session = http2.connect(`http://127.0.0.1:${endpoint}`, { settings: { initialWindowSize: 1 << 20 } });
session.on('error', () => {});
server.on('session', (s) => s.on('error', () => {}));
server.on('stream', (down, headers) => {
  const up = session.request(headers, { endStream: false });
  let trailers: http2.OutgoingHttpHeaders = {};
  down.on('data', (chunk: Buffer) => up.write(chunk));
  down.on('end', () => up.end());
  down.on('error', () => {});
  down.on('close', () => up.destroyed || up.close(http2.constants.NGHTTP2_CANCEL));
  down.on('wantTrailers', () => down.sendTrailers(trailers));
  up.on('error', () => {});
  up.on('response', (h) => down.destroyed || down.respond(h, { waitForTrailers: true }));
  up.on('data', (chunk: Buffer) => down.destroyed || down.write(chunk));
  up.on('trailers', (t) => (trailers = t as http2.OutgoingHttpHeaders));
  up.on('end', () => down.destroyed || down.end());
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${(server.address() as { port: number }).port}\n`));
process.on('SIGTERM', () => process.exit(0));
