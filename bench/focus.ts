import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findBinary, startPeer, type Peer } from './peers.js';
import { CLK_TCK, ROUTER_NODE_FLAGS, cpuTicks, cpuTicksOf, cpuUsSince, describeIdle, h2load, idleStreams, median, need, resolveNodes, rssSplitMb, startProcess } from './harness.js';

/**
 * One of `npm run bench`'s measurements alone, to study it without the full run (bench/README.md,
 * "One measurement alone"):
 * - `idle` (`npm run bench:idle`): the idle-stream row, a fresh router per Node version;
 * - `load` (`npm run bench:load`): the fixed-rate unary rows (16 and 64 streams at BENCH_RPS),
 *   router CPU per call (with its ratio to nginx's in the same round when nginx is installed) and
 *   the router's memory under that load split into RssAnon and RssFile.
 * Same env as the full bench: BENCH_NODES, BENCH_ROUTER_NODE_FLAGS (e.g. add `--cpu-prof
 * --cpu-prof-dir=/tmp/prof`: the router writes its profile when it exits), BENCH_RPS, BENCH_ROUNDS
 * (default 3), BENCH_SECONDS (default 4), BENCH_IDLE_STREAMS (default 10,000).
 */
const what = process.argv[2];
if (what !== 'idle' && what !== 'load') {
  console.error('usage: node dist/bench/focus.js idle|load');
  process.exit(2);
}
need('h2load');
need('taskset');
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 4);
const RPS = Number(process.env['BENCH_RPS'] ?? 3000);
const IDLE_STREAMS = Number(process.env['BENCH_IDLE_STREAMS'] ?? 10_000);
const { nodes, notes } = resolveNodes(process.env['BENCH_NODES']);
for (const n of notes) console.error(n);
const backend = await startProcess(1, 'backend.js', ['0']);
const dir = mkdtempSync(join(tmpdir(), 'kgr-bench-'));
console.log(`node flags: ${ROUTER_NODE_FLAGS.join(' ') || 'none'}`);
try {
  if (what === 'idle') {
    for (const node of nodes) console.log(describeIdle(node, IDLE_STREAMS, await idleStreams(backend.port, IDLE_STREAMS, node)));
  } else {
    await load();
  }
} finally {
  backend.child.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}

async function load(): Promise<void> {
  const routers = [];
  for (const node of nodes) {
    const r = await startProcess(0, 'router-process.js', [String(backend.port)], ROUTER_NODE_FLAGS, node.exec);
    routers.push({ node, child: r.child, pid: r.child.pid!, port: r.port });
  }
  const nginxBin = findBinary('nginx');
  let nginx: Peer | undefined;
  if (nginxBin !== undefined) nginx = await startPeer('nginx', nginxBin, backend.port, 0).catch(() => undefined);
  try {
    for (const r of routers) await h2load(r.port, 4, 16, undefined, dir, Math.min(SECONDS, 5));
    if (nginx) await h2load(nginx.port, 4, 16, undefined, dir, 2);
    // Per router and row: CPU µs per call, its ratio to nginx's in the same round, and the highest RssAnon/RssFile seen.
    const rows = new Map<string, { us: number[]; ratio: number[]; anon: number; file: number }>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const streams of [16, 64]) {
        let nginxUs = NaN;
        if (nginx) {
          const before = cpuTicksOf(nginx.pids());
          const p = await h2load(nginx.port, 4, streams, RPS, dir, SECONDS);
          nginxUs = cpuUsSince(before, cpuTicksOf(nginx.pids())) / p.done;
        }
        for (const r of routers) {
          const t0 = cpuTicks(r.pid);
          let anon = 0;
          let file = 0;
          const res = await h2load(r.port, 4, streams, RPS, dir, SECONDS, r.pid, () => {
            const m = rssSplitMb(r.pid);
            anon = Math.max(anon, m.anon);
            file = Math.max(file, m.file);
          });
          const us = (((cpuTicks(r.pid) - t0) / CLK_TCK) * 1e6) / res.done;
          const key = `${r.node.label}, ${streams} streams`;
          const row = rows.get(key) ?? { us: [], ratio: [], anon: 0, file: 0 };
          row.us.push(us);
          row.ratio.push(us / nginxUs);
          row.anon = Math.max(row.anon, anon);
          row.file = Math.max(row.file, file);
          rows.set(key, row);
        }
      }
    }
    for (const [key, row] of rows) {
      console.log(
        `${key} @${RPS} rps: router CPU ${median(row.us).toFixed(1)} µs/call (per round ${row.us.map((x) => x.toFixed(1)).join(', ')})` +
          `${nginx ? `, ${median(row.ratio).toFixed(2)}× nginx (per round ${row.ratio.map((x) => x.toFixed(2)).join(', ')})` : ', nginx not run'}; ` +
          `highest RssAnon ${row.anon.toFixed(1)} MB, RssFile ${row.file.toFixed(1)} MB`,
      );
    }
  } finally {
    for (const r of routers) r.child.kill('SIGTERM');
    await nginx?.stop();
  }
}
