// npm run bench:metrics — what a stream's metric work costs: the ~8 calls the data plane made on
// labelled prom-client children (before metric cells) against the same work on cells, in ns and
// bytes allocated per stream, plus what a /metrics scrape costs with a realistic set of series.
// Not part of `npm test`; run it on a quiet machine (it measures wall time on one core).
//
// Bytes per stream are heap growth over a window with no garbage collection in it (the script is
// run with a 64 MB young generation and checks that no GC ran during the window).
import { performance, PerformanceObserver } from 'node:perf_hooks';
import { Metrics } from '../src/telemetry/metrics.js';

const ROUTER = 'h2';
const SERVICE = '/svc/com.example.grpc.EchoService';
const CLIENT = '/#/io.l5d.k8s/default/grpc/echo';
const ENDPOINTS = ['10.0.0.1:8080', '10.0.0.2:8080', '10.0.0.3:8080'];
const CODES = ['OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND'];

/** One finished stream's figures, precomputed so the loop measures metric work only. */
interface Stream {
  endpoint: number;
  code: number;
  seconds: number;
  bytesIn: number;
  bytesOut: number;
}
const STREAMS: Stream[] = Array.from({ length: 4096 }, (_, i) => ({
  endpoint: i % ENDPOINTS.length,
  code: i % 50 === 0 ? 5 : 0,
  // Mostly 0.3–3 ms with a tail, like unary calls on a node.
  seconds: (0.3 + ((i * 7919) % 2700) / 1000 + (i % 97 === 0 ? 40 : 0)) / 1000,
  bytesIn: 17,
  bytesOut: 22 + (i % 5),
}));

interface PerStream {
  run(s: Stream): void;
}

/** Before: the prom-client children route-stats, the balancer client and the router resolved once. */
function childrenPath(m: Metrics, client = CLIENT): PerStream {
  const streams = m.serverStreams.labels({ router: ROUTER, server: '127.0.0.1:4140' });
  const inFlight = m.streamsInFlight.labels({ router: ROUTER, client });
  const endpoints = ENDPOINTS.map((endpoint) => ({
    success: m.endpointRequests.labels({ router: ROUTER, client, endpoint, result: 'success' }),
    failure: m.endpointRequests.labels({ router: ROUTER, client, endpoint, result: 'failure' }),
  }));
  const byCode = CODES.map((grpc_code) => m.requests.labels({ router: ROUTER, service: SERVICE, client, grpc_code }));
  const duration = m.requestDuration.labels({ router: ROUTER, service: SERVICE, client });
  const bytesIn = m.bytes.labels({ router: ROUTER, client, direction: 'request' });
  const bytesOut = m.bytes.labels({ router: ROUTER, client, direction: 'response' });
  return {
    run(s) {
      streams.inc();
      inFlight.inc();
      inFlight.dec();
      const e = endpoints[s.endpoint]!;
      if (s.code === 0) e.success.inc();
      else e.failure.inc();
      byCode[s.code]!.inc();
      duration.observe(s.seconds);
      if (s.bytesIn > 0) bytesIn.inc(s.bytesIn);
      if (s.bytesOut > 0) bytesOut.inc(s.bytesOut);
    },
  };
}

/** After: the same series as metric cells. */
function cellsPath(m: Metrics, client = CLIENT): PerStream {
  const streams = m.serverStreams.cell({ router: ROUTER, server: '127.0.0.1:4140' });
  const inFlight = m.streamsInFlight.cell({ router: ROUTER, client });
  const endpoints = ENDPOINTS.map((endpoint) => ({
    success: m.endpointRequests.cell({ router: ROUTER, client, endpoint, result: 'success' }),
    failure: m.endpointRequests.cell({ router: ROUTER, client, endpoint, result: 'failure' }),
  }));
  const byCode = CODES.map((grpc_code) => m.requests.cell({ router: ROUTER, service: SERVICE, client, grpc_code }));
  const duration = m.requestDuration.cell({ router: ROUTER, service: SERVICE, client });
  const bytesIn = m.bytes.cell({ router: ROUTER, client, direction: 'request' });
  const bytesOut = m.bytes.cell({ router: ROUTER, client, direction: 'response' });
  return {
    run(s) {
      streams.value++;
      inFlight.value++;
      inFlight.value--;
      const e = endpoints[s.endpoint]!;
      if (s.code === 0) e.success.value++;
      else e.failure.value++;
      byCode[s.code]!.value++;
      duration.observe(s.seconds);
      bytesIn.value += s.bytesIn;
      bytesOut.value += s.bytesOut;
    },
  };
}

function loop(path: PerStream, n: number): void {
  for (let i = 0; i < n; i++) path.run(STREAMS[i & 4095]!);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

let gcs = 0;
new PerformanceObserver((list) => (gcs += list.getEntries().length)).observe({ entryTypes: ['gc'] });
// GC entries reach the observer asynchronously: wait long enough for a forced GC's to arrive.
const settle = () => new Promise((r) => setTimeout(r, 20));
const gc = (globalThis as { gc?: () => void }).gc;

/** ns per stream (median of rounds) and bytes per stream (median of GC-free windows). */
async function measure(name: string, make: (m: Metrics) => PerStream): Promise<{ ns: number; bytes: number | undefined }> {
  const path = make(new Metrics({ processMetrics: false }));
  loop(path, 300_000); // warm up: let the JIT settle on this path
  const N = 1_000_000;
  const times: number[] = [];
  for (let r = 0; r < 7; r++) {
    const t0 = performance.now();
    loop(path, N);
    times.push(((performance.now() - t0) * 1e6) / N);
  }
  const bytes: number[] = [];
  if (gc) {
    const W = 5_000;
    for (let r = 0; r < 9 && bytes.length < 5; r++) {
      gc();
      await settle();
      const before = gcs;
      const h0 = process.memoryUsage().heapUsed;
      loop(path, W);
      const h1 = process.memoryUsage().heapUsed;
      await settle();
      if (gcs === before) bytes.push((h1 - h0) / W);
    }
  }
  const result = { ns: median(times), bytes: bytes.length > 0 ? median(bytes) : undefined };
  console.log(`${name.padEnd(34)} ${result.ns.toFixed(1).padStart(7)} ns/stream   ${result.bytes === undefined ? 'n/a (run with --expose-gc)' : `${result.bytes.toFixed(0).padStart(5)} B/stream`}`);
  return result;
}

/** A /metrics scrape with `clients` clients of 3 endpoints each (both ways publish the same series). */
async function scrape(name: string, make: (m: Metrics, client: string) => PerStream, clients: number): Promise<void> {
  const m = new Metrics({ processMetrics: false });
  const paths = Array.from({ length: clients }, (_, i) => make(m, `${CLIENT}-${i}`));
  for (const p of paths) loop(p, 1000);
  await m.registry.metrics();
  const times: number[] = [];
  for (let r = 0; r < 15; r++) {
    for (const p of paths) loop(p, 100);
    const t0 = performance.now();
    await m.registry.metrics();
    times.push(performance.now() - t0);
  }
  console.log(`${name.padEnd(34)} ${median(times).toFixed(2).padStart(7)} ms per /metrics (${clients} clients)`);
}

console.log(`node ${process.version}, ${STREAMS.length} distinct streams cycled; 8 metric updates per stream`);
const before = await measure('before: prom-client children', childrenPath);
const after = await measure('after: metric cells', cellsPath);
console.log(`cells: ${(before.ns / after.ns).toFixed(1)}x less time per stream` + (before.bytes !== undefined && after.bytes !== undefined ? `, ${before.bytes.toFixed(0)} -> ${after.bytes.toFixed(0)} B allocated per stream` : ''));
await scrape('scrape, before: children', childrenPath, 50);
await scrape('scrape, after: cells', cellsPath, 50);
