import * as http2 from 'node:http2';

/**
 * Ping-pong streaming load: `streams` bidi gRPC streams (over `connections` HTTP/2 connections),
 * each sending one `size`-byte message and waiting for its echo before sending the next, for
 * `seconds`. A load generator of our own because h2load sends a request body in one go and cannot
 * wait for a response message before writing the next one.
 *
 * Usage: node dist/bench/pingpong.js <port> <size> <seconds> [connections=2] [streams=8]
 * Prints one JSON line: { bytes, seconds, mbPerSec, roundTrips, stalled } (stalled: streams still
 * waiting for an echo 5 s after the end, then torn down).
 */
const [port, size, seconds] = process.argv.slice(2, 5).map(Number) as [number, number, number];
const connections = Number(process.argv[5] ?? 2);
const streams = Number(process.argv[6] ?? 8);

const frame = Buffer.alloc(5 + size, 0x61);
frame[0] = 0;
frame.writeUInt32BE(size, 1);

let bytes = 0;
let roundTrips = 0;
const endAt = Date.now() + seconds * 1000;
const sessions: http2.ClientHttp2Session[] = [];
const finished: Promise<void>[] = [];

for (let c = 0; c < connections; c++) {
  const session = http2.connect(`http://127.0.0.1:${port}`, { settings: { initialWindowSize: 1 << 20 } });
  session.on('error', (e) => {
    console.error('session error', e.message);
  });
  sessions.push(session);
  for (let s = 0; s < streams / connections; s++) {
    finished.push(
      new Promise<void>((resolve) => {
        const req = session.request({ ':method': 'POST', ':path': '/bench.Echo/Bidi', 'content-type': 'application/grpc', te: 'trailers' });
        let got = 0;
        req.on('data', (chunk: Buffer) => {
          got += chunk.length;
          if (got < frame.length) return;
          got -= frame.length;
          bytes += size;
          roundTrips++;
          if (Date.now() < endAt) req.write(frame);
          else req.end();
        });
        req.on('error', () => resolve());
        req.on('close', () => resolve());
        req.write(frame);
      }),
    );
  }
}
const t0 = Date.now();
// A proxy that stalls a stream must not hang the bench: 5 s after the end, whatever is still open is
// counted as stalled and torn down (the MB/s then covers the full time, stalled streams included).
let stalled = 0;
const settled = finished.map((p) => p.then(() => true));
const deadline = new Promise<'deadline'>((r) => setTimeout(() => r('deadline'), seconds * 1000 + 5000).unref());
const states = await Promise.all(settled.map((p) => Promise.race([p, deadline])));
stalled = states.filter((s) => s === 'deadline').length;
const elapsed = (Date.now() - t0) / 1000;
for (const s of sessions) (stalled > 0 ? s.destroy() : s.close());
process.stdout.write(JSON.stringify({ bytes, seconds: elapsed, mbPerSec: bytes / elapsed / 1e6, roundTrips, stalled }) + '\n');
