import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CLI, Started, freePort } from '../test/e2e/process.js';
import { flood, type FloodKind } from '../test/fixtures/name-flood.js';
import { ROUTER_NODE_FLAGS } from './harness.js';

/**
 * The hostile-names flood (issue 16) against a real router process running the demo's config
 * (the io.l5d.fs namer, a live dtab file), with the node flags the product ships with.
 *
 * Each phase sends N unary calls, 64 in flight, each naming something new: a distinct `l5d-dtab`
 * override (`/$/inet/127.a.b.c/9`), a distinct unknown service, or both. After each phase the
 * bench waits for the router's idle release (BENCH_FLOOD_SETTLE_MS, default 12 s), asks it for a
 * full GC (the bench preloads `gc-on-signal.js`, the product does not), then reads: settled
 * `nodejs_heap_size_used_bytes`, RSS (`/proc/<pid>/status`), and the number of lines and series
 * of `/metrics`.
 *
 * Usage: npm run bench:flood [-- calls-per-phase]   (default 40000, the figure)
 */
const calls = Number(process.argv[2] ?? 40_000);
const settleMs = Number(process.env.BENCH_FLOOD_SETTLE_MS ?? 12_000);

const dir = mkdtempSync(join(tmpdir(), 'kgr-flood-'));
const [port, admin] = [await freePort(), await freePort()];
writeFileSync(join(dir, 'dtab'), '/svc => /#/io.l5d.fs;\n');
writeFileSync(
  join(dir, 'config.yaml'),
  `admin: {ip: 127.0.0.1, port: ${admin}}
namers:
- kind: io.l5d.fs
  rootDir: ${dir}
routers:
- protocol: h2
  label: flood
  interpreter: {kind: io.l5d.fs, dtabFile: ${join(dir, 'dtab')}}
  servers: [{ip: 127.0.0.1, port: ${port}}]
shutdownDelay: 0s
shutdownGrace: 1s
`,
);
const gcModule = new URL('./gc-on-signal.js', import.meta.url).href;
const router = new Started(
  spawn(process.execPath, [...ROUTER_NODE_FLAGS, '--expose-gc', `--import=${gcModule}`, CLI, '--config', join(dir, 'config.yaml'), '--log-level', 'info'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  }),
);

interface Reading {
  heapMB: number;
  rssMB: number;
  metricLines: number;
  series: number;
}

async function read(): Promise<Reading> {
  const gcs = () => router.stdout.split('gc done').length;
  const before = gcs();
  router.child.kill('SIGUSR2');
  for (let waited = 0; gcs() === before; waited += 10) {
    if (waited > 10_000) throw new Error('the router did not answer the GC signal');
    await sleep(10);
  }
  const text = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
  const lines = text.split('\n').filter((l) => l.length > 0);
  const samples = lines.filter((l) => !l.startsWith('#'));
  const heap = Number(/^nodejs_heap_size_used_bytes (\S+)/m.exec(text)?.[1] ?? NaN);
  const rss = Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${router.child.pid}/status`, 'utf8'))?.[1] ?? NaN);
  return { heapMB: heap / 1e6, rssMB: rss / 1024, metricLines: lines.length, series: samples.length };
}

const show = (label: string, r: Reading) =>
  console.log(`${label.padEnd(34)} heap ${r.heapMB.toFixed(1).padStart(7)} MB   RSS ${r.rssMB.toFixed(1).padStart(7)} MB   /metrics ${String(r.metricLines).padStart(8)} lines, ${String(r.series).padStart(8)} samples`);

try {
  await router.waitFor(/admin listening/);
  await router.waitFor(/router listening/);
  console.log(`name flood: ${calls} calls per phase, 64 in flight, settle ${settleMs} ms; node ${process.version}`);
  show('start', await read());
  let offset = 0;
  for (const kind of ['override', 'service', 'both'] as FloodKind[]) {
    const t0 = performance.now();
    const result = await flood({ target: `127.0.0.1:${port}`, kind, calls, offset });
    offset += calls;
    const secs = (performance.now() - t0) / 1000;
    const statuses = [...result.byStatus].map(([s, n]) => `${s}=${n}`).join(' ');
    show(`after ${calls} × ${kind} (at once)`, await read());
    await sleep(settleMs);
    show(`after ${kind}, settled`, await read());
    console.log(`  ${(calls / secs).toFixed(0)} calls/s; grpc-status ${statuses}; e.g. "${[...result.messages.values()][0]?.slice(0, 140)}"`);
  }
} finally {
  await router.kill();
  rmSync(dir, { recursive: true, force: true });
}
