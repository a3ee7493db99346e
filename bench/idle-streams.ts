import * as http2 from 'node:http2';

/**
 * Idle-stream load: opens `streams` gRPC streams (over enough connections to stay under the router's
 * 1,000 streams per connection, each from its own client address) that send their request headers and nothing else, and waits until
 * every one has its response headers back from the endpoint through the router. Then the streams
 * sit idle until stdin closes (the runner measures the router's memory meanwhile); they are cancelled
 * on exit.
 *
 * Usage: node dist/bench/idle-streams.js <port> <streams> [perConnection=500]
 * Prints `open <n> <ms>` once all are open (or `failed <n> <reason>`).
 */
const [port, streams] = process.argv.slice(2, 4).map(Number) as [number, number];
const perConnection = Number(process.argv[4] ?? 500);
const HEADERS = { ':method': 'POST', ':path': '/bench.Echo/Idle', 'content-type': 'application/grpc', te: 'trailers' };

const sessions: http2.ClientHttp2Session[] = [];
let open = 0;
let failed = 0;
let lastError = '';
const t0 = Date.now();
const deadline = setTimeout(() => finish(`timed out with ${open} open`), 60_000);

function finish(failure?: string): void {
  clearTimeout(deadline);
  process.stdout.write(failure ? `failed ${open} ${failure}\n` : `open ${open} ${Date.now() - t0}\n`);
}

for (let c = 0; c * perConnection < streams; c++) {
  // Each connection from its own loopback address, as a node's pods would come: one client address
  // may hold only servers[].maxConcurrentRequestsPerClient of the streams.
  const localAddress = `127.0.0.${1 + (c % 250)}`;
  const session = http2.connect(`http://127.0.0.1:${port}`, { maxSessionMemory: 64, localAddress } as http2.ClientSessionOptions);
  session.on('error', (e) => (lastError = e.message));
  sessions.push(session);
  for (let s = 0; s < perConnection && c * perConnection + s < streams; s++) {
    const req = session.request(HEADERS, { endStream: false });
    req.on('response', () => {
      if (++open === streams) finish();
    });
    req.on('error', (e) => {
      lastError = e.message;
      if (++failed === 1) finish(lastError);
    });
  }
}

process.stdin.resume();
process.stdin.on('end', () => {
  for (const s of sessions) s.destroy();
  process.exit(0);
});
