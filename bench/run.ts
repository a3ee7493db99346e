import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PEER_LABEL, findBinary, grpcCheck, missingMessage, selectPeers, startPeer, type Peer, type PeerName } from './peers.js';

/**
 * `npm run bench`: the data plane's cost, direct vs through the router (see bench/README.md).
 *
 * The router runs in its own process pinned to CPU 0 (`taskset -c 0`); the echo endpoint, h2load and
 * the ping-pong generator share CPU 1. Unary load comes from h2load (Debian `nghttp2-client`) with a
 * gRPC-framed body; ping-pong streaming from bench/pingpong.ts. Router CPU is read from
 * /proc/<pid>/stat (utime+stime) around each run, its RSS sampled from /proc/<pid>/status, and how
 * busy CPU 1 was (so a saturated load-generator core shows) from /proc/stat.
 *
 * Each unary run is repeated through bench/floor-proxy.ts, the least a node:http2 proxy can do, to
 * show how much of the cost is Node's http2 layer, and through the reference proxies of issue 11
 * (bench/peers.ts: nginx `grpc_pass`, HAProxy, nghttpx, each pinned to CPU 0 like the router), whose
 * figures are printed as ratios to nginx's from the same round, so a noisy machine cancels out.
 *
 * Env: BENCH_ROUNDS (default 3; medians are reported), BENCH_SECONDS (default 4, each unary run),
 * BENCH_PINGPONG_SECONDS (default 2, each ping-pong run), BENCH_RPS (3000),
 * BENCH_PEERS (`all`, the default: every reference proxy installed; `none`; or e.g. `nginx,haproxy`),
 * BENCH_SOAK_SECONDS (default 60; issue 7's soak is 600; 0 skips), BENCH_IDLE_STREAMS (default
 * 10000; 0 skips), BENCH_ROUTER_NODE_FLAGS (the router's and the floor's node flags; default the product's,
 * `--max-semi-space-size=2 --single-threaded-gc`; set it to ' ' for Node's defaults).
 */
const here = dirname(fileURLToPath(import.meta.url));
/** The router runs as the product does (Dockerfile, daemonset.yaml, npm start); bench/README.md "V8 flags" has the trade-offs. */
const ROUTER_V8_FLAGS_DEFAULT = '--max-semi-space-size=2 --single-threaded-gc';
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 4);
const PINGPONG_SECONDS = Number(process.env['BENCH_PINGPONG_SECONDS'] ?? Math.min(SECONDS, 2));
const RPS = Number(process.env['BENCH_RPS'] ?? 3000);
const SOAK_SECONDS = Number(process.env['BENCH_SOAK_SECONDS'] ?? 60);
const IDLE_STREAMS = Number(process.env['BENCH_IDLE_STREAMS'] ?? 10_000);
const ROUTER_NODE_FLAGS = (process.env['BENCH_ROUTER_NODE_FLAGS'] ?? ROUTER_V8_FLAGS_DEFAULT).split(' ').filter(Boolean);
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

function need(cmd: string): void {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
  } catch {
    console.error(`bench: '${cmd}' is not installed (h2load: apt-get install nghttp2-client; taskset: util-linux)`);
    process.exit(2);
  }
}

function startProcess(cpu: number, script: string, args: string[], nodeFlags: string[] = []): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn('taskset', ['-c', String(cpu), process.execPath, ...nodeFlags, join(here, script), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      out += d;
      const m = /listening (\d+)/.exec(out);
      if (m) resolve({ child, port: Number(m[1]) });
    });
    child.on('exit', (code) => reject(new Error(`${script} exited ${code}`)));
  });
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
}

/** utime+stime ticks of each process in `pids`. */
function cpuTicksOf(pids: number[]): Map<number, number> {
  const m = new Map<number, number>();
  for (const pid of pids) {
    try {
      m.set(pid, cpuTicks(pid));
    } catch {
      // it ended between listing and reading
    }
  }
  return m;
}

/** CPU µs the processes in `after` used since `before` (a process that started since counts from 0). */
function cpuUsSince(before: Map<number, number>, after: Map<number, number>): number {
  let ticks = 0;
  for (const [pid, t] of after) ticks += t - (before.get(pid) ?? 0);
  return (ticks / CLK_TCK) * 1e6;
}

function statusKb(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}
const peakRssMb = (pid: number) => statusKb(pid, 'VmHWM');
const rssMb = (pid: number) => statusKb(pid, 'VmRSS');

/** [busy, total] jiffies of one CPU from /proc/stat (busy = everything but idle and iowait). */
function cpuJiffies(cpu: number): [number, number] {
  const line = readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith(`cpu${cpu} `))!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  return [total - v[3]! - v[4]!, total];
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

interface UnaryResult {
  rps: number;
  p50: number;
  p99: number;
  done: number;
  failed: number;
  /** How busy CPU 1 (load generator + endpoint) was, in %. */
  cpu1: number;
  /** Highest router RSS sampled during the run (MB), when a router pid was given. */
  maxRss: number;
}

/**
 * One h2load run. The log file is removed first: h2load appends to it, and an earlier run's
 * latencies must not leak into this one's percentiles.
 */
async function h2load(port: number, clients: number, streams: number, rps: number | undefined, dir: string, seconds: number, routerPid?: number, onSample?: (rss: number) => void): Promise<UnaryResult> {
  // A gRPC-framed EchoRequest{message: "hello"}: flag 0, length 7, protobuf bytes.
  const body = join(dir, 'body.bin');
  writeFileSync(body, Buffer.from([0, 0, 0, 0, 7, 0x0a, 0x05, 0x68, 0x65, 0x6c, 0x6c, 0x6f]));
  const log = join(dir, 'h2load.log');
  rmSync(log, { force: true });
  const args = ['-c', '1', 'h2load', '-d', body, '-H', 'content-type: application/grpc', '-H', 'te: trailers', '-c', String(clients), '-m', String(streams / clients), '-D', String(seconds), '--log-file', log];
  if (rps !== undefined) args.push('--rps', String(rps / clients));
  args.push(`http://127.0.0.1:${port}/bench.Echo/Unary`);
  const [b0, t0] = cpuJiffies(1);
  let maxRss = 0;
  const sampler =
    routerPid === undefined
      ? undefined
      : setInterval(() => {
          const r = rssMb(routerPid);
          if (r > maxRss) maxRss = r;
          onSample?.(r);
        }, 1000);
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn('taskset', args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => (text += d));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`h2load exited ${code}: ${text}`))));
  });
  if (sampler) clearInterval(sampler);
  const [b1, t1] = cpuJiffies(1);
  const m = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed/.exec(out);
  const lat = readFileSync(log, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => Number(l.split('\t')[2]) / 1000)
    .sort((a, b) => a - b);
  const done = Number(m?.[3] ?? lat.length);
  return { rps: done / seconds, p50: percentile(lat, 50), p99: percentile(lat, 99), done, failed: Number(m?.[5] ?? 0), cpu1: ((b1 - b0) / (t1 - t0)) * 100, maxRss };
}

/** Ping-pong runs in which a proxy left streams hanging (printed under the tables). */
const stallNotes: string[] = [];

function pingpong(port: number, size: number, who = `port ${port}`): number {
  const out = execFileSync('taskset', ['-c', '1', process.execPath, join(here, 'pingpong.js'), String(port), String(size), String(PINGPONG_SECONDS)]).toString();
  const r = JSON.parse(out.trim().split('\n').pop()!) as { mbPerSec: number; stalled: number };
  if (r.stalled > 0) {
    stallNotes.push(`ping-pong ${size / 1024} KiB through ${who}: ${r.stalled} of 8 streams stalled (no echo 5 s after the end)`);
    console.error(stallNotes[stallNotes.length - 1]);
  }
  return r.mbPerSec;
}

/** Router RSS with `n` idle streams open through it, on a fresh router: [before, with streams] MB. */
async function idleStreams(backendPort: number, n: number): Promise<[number, number, string]> {
  const router = await startProcess(0, 'router-process.js', [String(backendPort)], ROUTER_NODE_FLAGS);
  const pid = router.child.pid!;
  try {
    await new Promise((r) => setTimeout(r, 1000));
    const before = rssMb(pid);
    const gen = spawn('taskset', ['-c', '1', process.execPath, join(here, 'idle-streams.js'), String(router.port), String(n)], { stdio: ['pipe', 'pipe', 'inherit'] });
    const line = await new Promise<string>((resolve) => {
      let out = '';
      gen.stdout.setEncoding('utf8');
      gen.stdout.on('data', (d: string) => {
        out += d;
        if (out.includes('\n')) resolve(out.trim());
      });
      gen.on('exit', () => resolve(out.trim() || 'generator exited'));
    });
    // Let the router settle (GC) with every stream open, then read its RSS.
    await new Promise((r) => setTimeout(r, 3000));
    const withStreams = rssMb(pid);
    gen.stdin.end();
    await new Promise((r) => gen.once('exit', r));
    return [before, withStreams, line];
  } finally {
    router.child.kill('SIGTERM');
  }
}

/**
 * Issue 11's comparison: one row per measure, one column per proxy, each figure with its ratio to
 * nginx's. The ratio is taken within each round (the router's and nginx's runs minutes apart at most)
 * and the median of those is printed, so a machine that is slower in one round than another cancels
 * out; the absolute figure is the median over rounds as in the other tables.
 */
function peerTable(results: Record<string, Record<string, number[][]>>, unaryNames: string[], peers: Peer[], endRss: Record<string, number>): string[] {
  const cols: [string, string][] = [
    ['router', 'router'],
    ['floor', 'floor'],
    ...(['nginx', 'haproxy', 'nghttpx'] as PeerName[]).map((n): [string, string] => [n, PEER_LABEL[n]]),
  ];
  const have = new Set<string>(['router', 'floor', ...peers.map((p) => p.name)]);
  /** Per-round values of one measure for one column (index i of each recorded row), or undefined. */
  type Pick = (kind: string) => number[] | undefined;
  const series =
    (scenario: string, i: number, relativeTo?: string): Pick =>
    (kind) => {
      const rows = results[scenario]?.[kind];
      if (!have.has(kind) || rows === undefined || rows.length === 0) return undefined;
      const base = relativeTo === undefined ? undefined : results[scenario]?.[relativeTo];
      return rows.map((r, round) => (base === undefined ? r[i]! : (r[i]! / base[round]![i]!) * 100));
    };
  const [u16, u64, closed] = unaryNames as [string, string, string];
  const measures: [string, Pick, number][] = [
    [`CPU µs/call @${RPS} rps, 16 streams`, series(u16, 3), 0],
    [`CPU µs/call @${RPS} rps, 64 streams`, series(u64, 3), 0],
    [`p99 ms @${RPS} rps, 16 streams`, series(u16, 2), 2],
    [`p99 ms @${RPS} rps, 64 streams`, series(u64, 2), 2],
    ['calls/s closed loop, 64 streams', series(closed, 0), 0],
    ['ping-pong 1 KiB, % of direct', series('ping-pong 1 KiB', 0, 'direct'), 0],
    ['ping-pong 64 KiB, % of direct', series('ping-pong 64 KiB', 0, 'direct'), 0],
    ['RSS MB at the end of the rounds', (k) => (have.has(k) && endRss[k] !== undefined ? [endRss[k]] : undefined), 0],
  ];
  const out = [
    `| measure (ratio to nginx${have.has('nginx') ? '' : ': nginx did not run, absolute figures only'}) | ${cols.map(([, l]) => l).join(' | ')} |`,
    `|---|${cols.map(() => '---').join('|')}|`,
  ];
  for (const [label, pick, digits] of measures) {
    const ngx = pick('nginx');
    const cells = cols.map(([kind]) => {
      const v = pick(kind);
      if (v === undefined) return '—';
      const abs = median(v).toFixed(digits) + (label.includes('% of direct') ? ' %' : '');
      if (ngx === undefined) return abs;
      return `${abs} (${median(v.map((x, round) => x / ngx[round]!)).toFixed(2)}×)`;
    });
    out.push(`| ${label} | ${cells.join(' | ')} |`);
  }
  return out;
}

async function main(): Promise<void> {
  need('h2load');
  need('taskset');
  let wanted: PeerName[];
  try {
    wanted = selectPeers(process.env['BENCH_PEERS']);
  } catch (e) {
    console.error(`bench: ${(e as Error).message}`);
    process.exit(2);
  }
  const dir = mkdtempSync(join(tmpdir(), 'kgr-bench-'));
  const load0 = loadavg()[0]!;
  const backend = await startProcess(1, 'backend.js', ['0']);
  const router = await startProcess(0, 'router-process.js', [String(backend.port)], ROUTER_NODE_FLAGS);
  const rpid = router.child.pid!;
  // The floor: a minimal node:http2 proxy (bench/floor-proxy.ts) with the router's node flags.
  const floor = await startProcess(0, 'floor-proxy.js', [String(backend.port)], ROUTER_NODE_FLAGS);
  const fpid = floor.child.pid!;
  // The reference proxies (issue 11), pinned to CPU 0 like the router; a missing or broken one is
  // skipped with a line saying why, never a failed bench.
  const peers: Peer[] = [];
  const peerNotes: string[] = [];
  for (const name of wanted) {
    const bin = findBinary(name);
    if (bin === undefined) {
      peerNotes.push(missingMessage(name));
      continue;
    }
    try {
      const peer = await startPeer(name, bin, backend.port, 0);
      // h2load judges by :status only: one call read with its trailers shows the peer proxies gRPC.
      const bad = await grpcCheck(peer.port);
      if (bad !== undefined) {
        await peer.stop();
        peerNotes.push(`${PEER_LABEL[name]}: skipped, a gRPC call through it did not end with grpc-status 0 (${bad})`);
        continue;
      }
      peers.push(peer);
      peerNotes.push(`${PEER_LABEL[name]} (${bin}): gRPC echo through it returned grpc-status 0 in trailers`);
    } catch (e) {
      peerNotes.push(`${PEER_LABEL[name]}: skipped, ${(e as Error).message}`);
    }
  }
  for (const n of peerNotes) console.error(n);
  const results: Record<string, Record<string, number[][]>> = {};
  const record = (name: string, kind: string, row: number[]) => {
    results[name] ??= {};
    (results[name][kind] ??= []).push(row);
  };
  let fixedRateRss = 0;
  const t0Run = Date.now();
  try {
    // Warm the router (JIT, connections) before measuring.
    await h2load(router.port, 4, 16, undefined, dir, Math.min(SECONDS, 5));
    await h2load(floor.port, 4, 16, undefined, dir, Math.min(SECONDS, 5));
    // The peers have no JIT; a short run opens their upstream connections and sizes their pools.
    for (const peer of peers) await h2load(peer.port, 4, 16, undefined, dir, Math.min(SECONDS, 2));
    const unary: [string, number, number, number | undefined][] = [
      [`unary 16 streams @${RPS} rps`, 4, 16, RPS],
      [`unary 64 streams @${RPS} rps`, 4, 64, RPS],
      ['unary 64 streams closed loop', 4, 64, undefined],
    ];
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, c, m, rps] of unary) {
        const d = await h2load(backend.port, c, m, rps, dir, SECONDS);
        record(name, 'direct', [d.rps, d.p50, d.p99, NaN, d.cpu1]);
        const t0 = cpuTicks(rpid);
        const r = await h2load(router.port, c, m, rps, dir, SECONDS, rpid);
        const us = ((cpuTicks(rpid) - t0) / CLK_TCK) * 1e6;
        if (r.failed > 0) console.error(`${name}: ${r.failed} requests failed through the router`);
        if (rps !== undefined) fixedRateRss = Math.max(fixedRateRss, r.maxRss);
        record(name, 'router', [r.rps, r.p50, r.p99, us / r.done, r.cpu1]);
        const f0 = cpuTicks(fpid);
        const f = await h2load(floor.port, c, m, rps, dir, SECONDS);
        record(name, 'floor', [f.rps, f.p50, f.p99, (((cpuTicks(fpid) - f0) / CLK_TCK) * 1e6) / f.done]);
        // Each peer right after, on the same load; CPU summed over all its processes.
        for (const peer of peers) {
          const before = cpuTicksOf(peer.pids());
          const p = await h2load(peer.port, c, m, rps, dir, SECONDS);
          const us = cpuUsSince(before, cpuTicksOf(peer.pids()));
          if (p.failed > 0) console.error(`${name}: ${p.failed} requests failed through ${peer.label}`);
          record(name, peer.name, [p.rps, p.p50, p.p99, us / p.done]);
        }
      }
      for (const size of [1024, 65536]) {
        const name = `ping-pong ${size / 1024} KiB`;
        record(name, 'direct', [pingpong(backend.port, size)]);
        record(name, 'router', [pingpong(router.port, size, 'the router')]);
        if (peers.length > 0) {
          record(name, 'floor', [pingpong(floor.port, size, 'the floor')]);
          for (const peer of peers) record(name, peer.name, [pingpong(peer.port, size, peer.label)]);
        }
      }
      console.error(`round ${round + 1}/${ROUNDS} done; router RSS ${rssMb(rpid).toFixed(1)} MB`);
    }
    const peak = peakRssMb(rpid);
    // RSS at the end of the rounds, all processes of each (nginx: master + worker; shared pages counted twice).
    const endRss: Record<string, number> = { router: rssMb(rpid), floor: rssMb(fpid) };
    for (const peer of peers) endRss[peer.name] = peer.pids().reduce((a, pid) => a + rssMb(pid), 0);
    const roundsSeconds = (Date.now() - t0Run) / 1000;

    // Soak: the fixed rate for SOAK_SECONDS, RSS sampled every second.
    let soak = '';
    if (SOAK_SECONDS > 0) {
      const samples: number[] = [];
      const t0 = cpuTicks(rpid);
      const r = await h2load(router.port, 4, 64, RPS, dir, SOAK_SECONDS, rpid, (v) => samples.push(v));
      const us = ((cpuTicks(rpid) - t0) / CLK_TCK) * 1e6;
      // The first 10 % is warm-up (heap and session buffers growing to their working size).
      const steady = samples.slice(Math.floor(samples.length / 10));
      const lo = Math.min(...steady);
      const hi = Math.max(...steady);
      const mid = median(steady);
      soak =
        `soak ${SOAK_SECONDS} s at ${RPS} rps (64 streams): ${r.done} requests, ${r.failed} failed, p50/p99 ${r.p50.toFixed(2)} / ${r.p99.toFixed(2)} ms, ` +
        `router CPU ${(us / r.done).toFixed(1)} µs/req; RSS after warm-up min/median/max ${lo.toFixed(1)} / ${mid.toFixed(1)} / ${hi.toFixed(1)} MB ` +
        `(spread ${(((hi - lo) / mid) * 100).toFixed(1)} % of the median; first ${samples[0]?.toFixed(1)} MB, last ${samples[samples.length - 1]?.toFixed(1)} MB)`;
      console.error('soak done');
    }

    // Every routed stream must have ended grpc-status OK (h2load only sees :status 200).
    const check = await new Promise<string>((resolve) => {
      let out = '';
      const on = (d: string) => {
        out += d;
        if (/streams /.test(out)) {
          router.child.stdout!.off('data', on);
          resolve(out.trim());
        }
      };
      router.child.stdout!.on('data', on);
      router.child.kill('SIGUSR2');
    });

    let idle = '';
    if (IDLE_STREAMS > 0) {
      const [before, withStreams, line] = await idleStreams(backend.port, IDLE_STREAMS);
      idle = `idle streams (fresh router): ${line.startsWith('open') ? `${IDLE_STREAMS} open` : line}; router RSS ${before.toFixed(1)} MB before, ${withStreams.toFixed(1)} MB with them open: ${(withStreams - before).toFixed(1)} MB for ${IDLE_STREAMS} streams`;
    }

    const col = (rows: number[][], i: number) => median(rows.map((x) => x[i]!));
    const lines: string[] = [];
    lines.push(`kube-grpc-router bench: ${ROUNDS} round(s) of ${SECONDS} s, medians; router pinned to CPU 0 (node flags: ${ROUTER_NODE_FLAGS.join(' ') || 'none'}), load and endpoint on CPU 1`);
    lines.push(`node ${process.version}, ${execFileSync('sh', ['-c', 'h2load --version | head -1']).toString().trim()}; load average ${load0.toFixed(2)} at start, ${loadavg()[0]!.toFixed(2)} at end`);
    lines.push('');
    lines.push('| scenario | direct RPS | direct p50/p99 ms | router RPS | router p50/p99 ms | added p50/p99 ms | router CPU µs/req | floor RPS, p50/p99 ms, CPU µs/req | CPU 1 busy direct/routed |');
    lines.push('|---|---|---|---|---|---|---|---|---|');
    for (const [name] of unary) {
      const d = results[name]!.direct;
      const r = results[name]!.router;
      const f = results[name]!.floor;
      lines.push(
        `| ${name} | ${col(d, 0).toFixed(0)} | ${col(d, 1).toFixed(2)} / ${col(d, 2).toFixed(2)} | ${col(r, 0).toFixed(0)} | ${col(r, 1).toFixed(2)} / ${col(r, 2).toFixed(2)} | ` +
          `${(col(r, 1) - col(d, 1)).toFixed(2)} / ${(col(r, 2) - col(d, 2)).toFixed(2)} | ${col(r, 3).toFixed(1)} | ` +
          `${col(f, 0).toFixed(0)}, ${col(f, 1).toFixed(2)} / ${col(f, 2).toFixed(2)}, ${col(f, 3).toFixed(1)} | ${col(d, 4).toFixed(0)} % / ${col(r, 4).toFixed(0)} % |`,
      );
    }
    lines.push('');
    lines.push('| ping-pong (8 streams, 2 connections) | direct MB/s | router MB/s | router/direct |');
    lines.push('|---|---|---|---|');
    for (const size of [1024, 65536]) {
      const name = `ping-pong ${size / 1024} KiB`;
      const d = median(results[name]!.direct.map((x) => x[0]!));
      const r = median(results[name]!.router.map((x) => x[0]!));
      lines.push(`| ${size / 1024} KiB | ${d.toFixed(1)} | ${r.toFixed(1)} | ${((r / d) * 100).toFixed(0)} % |`);
    }
    if (wanted.length > 0) lines.push('', ...peerTable(results, unary.map(([n]) => n), peers, endRss), ...peerNotes.map((n) => `- ${n}`));
    for (const n of stallNotes) lines.push(`- ${n}`);
    lines.push('');
    lines.push(`router RSS under the fixed-rate load (highest 1 s sample): ${fixedRateRss.toFixed(1)} MB; peak RSS (VmHWM, closed loop and streaming included): ${peak.toFixed(1)} MB`);
    lines.push(`floor proxy (bench/floor-proxy.ts, same node flags) RSS at the end: ${rssMb(fpid).toFixed(1)} MB`);
    if (soak) lines.push(soak);
    if (idle) lines.push(idle);
    lines.push(`router check: ${check}`);
    lines.push(`warm-up and rounds took ${roundsSeconds.toFixed(0)} s, the whole bench ${((Date.now() - t0Run) / 1000).toFixed(0)} s`);
    console.log(lines.join('\n'));
  } finally {
    router.child.kill('SIGTERM');
    floor.child.kill('SIGTERM');
    await Promise.all(peers.map((p) => p.stop()));
    backend.child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
