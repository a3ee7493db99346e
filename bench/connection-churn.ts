import * as http2 from 'node:http2';
import { ECHO_REQUEST, ECHO_REQUEST_HEADERS } from './echo-request.js';
import { cpuTicksOf, cpuUsSince } from './harness.js';

/**
 * The client of `npm run bench:connections`, run on the load's CPU. Against the proxy at <port>, it
 * warms the proxy up (300 connections, then 2,000 calls on one), then for each round:
 * - opens <n> connections one after another, with one unary call on each, closing each after it;
 * - makes <n> calls one after another on one connection.
 * The proxy's processes (<pids>) are read in /proc around each phase. Prints one JSON line per
 * round: `{"connectionUs": …, "callUs": …}`, the CPU per new connection beyond its call, and per
 * call on an open connection.
 *
 * Usage: node dist/bench/connection-churn.js <port> <pid,pid…> <rounds> <n>
 */
const [port, pidList, rounds, n] = process.argv.slice(2) as [string, string, string, string];
const pids = pidList.split(',').map(Number);

function call(session: http2.ClientHttp2Session): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = session.request(ECHO_REQUEST_HEADERS);
    let status: string | undefined;
    // A trailers-only answer (an error) carries its status in the response headers.
    req.on('response', (h) => (status = h['grpc-status'] === undefined ? undefined : String(h['grpc-status'])));
    req.on('trailers', (t) => (status = String(t['grpc-status'])));
    req.on('data', () => {});
    req.on('end', () => (status === '0' ? resolve() : reject(new Error(`grpc-status ${status ?? 'missing'} from port ${port}`))));
    req.on('error', reject);
    req.end(ECHO_REQUEST);
  });
}

function close(session: http2.ClientHttp2Session): Promise<void> {
  return new Promise((resolve) => session.close(() => resolve()));
}

async function fresh(count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    await call(session);
    await close(session);
  }
}

async function reuse(count: number): Promise<void> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  for (let i = 0; i < count; i++) await call(session);
  await close(session);
}

async function cpuUsOf(phase: () => Promise<void>): Promise<number> {
  const before = cpuTicksOf(pids);
  await phase();
  return cpuUsSince(before, cpuTicksOf(pids));
}

const count = Number(n);
await fresh(300);
await reuse(2000);
for (let round = 0; round < Number(rounds); round++) {
  const freshUs = await cpuUsOf(() => fresh(count));
  const reuseUs = await cpuUsOf(() => reuse(count));
  process.stdout.write(`${JSON.stringify({ connectionUs: (freshUs - reuseUs) / count, callUs: reuseUs / count })}\n`);
}
