import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * `npm run bench`: the data plane's cost, direct vs through the router (see bench/README.md).
 *
 * The router runs in its own process pinned to CPU 0 (`taskset -c 0`); the echo endpoint, h2load and
 * the ping-pong generator share CPU 1. Unary load comes from h2load (Debian `nghttp2-client`) with a
 * gRPC-framed body; ping-pong streaming from bench/pingpong.ts. Router CPU is read from
 * /proc/<pid>/stat (utime+stime) around each run, peak RSS from VmHWM.
 *
 * Env: BENCH_ROUNDS (default 3; medians are reported), BENCH_SECONDS (default 10), BENCH_RPS (3000).
 */
const here = dirname(fileURLToPath(import.meta.url));
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 10);
const RPS = Number(process.env['BENCH_RPS'] ?? 3000);
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

function need(cmd: string): void {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
  } catch {
    console.error(`bench: '${cmd}' is not installed (h2load: apt-get install nghttp2-client; taskset: util-linux)`);
    process.exit(2);
  }
}

function startProcess(cpu: number, script: string, args: string[]): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn('taskset', ['-c', String(cpu), process.execPath, join(here, script), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
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

function peakRssMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
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
  cpuUs?: number;
}

function h2load(port: number, clients: number, streams: number, rps: number | undefined, dir: string): UnaryResult {
  // A gRPC-framed EchoRequest{message: "hello"}: flag 0, length 7, protobuf bytes.
  const body = join(dir, 'body.bin');
  writeFileSync(body, Buffer.from([0, 0, 0, 0, 7, 0x0a, 0x05, 0x68, 0x65, 0x6c, 0x6c, 0x6f]));
  const log = join(dir, 'h2load.log');
  const args = ['-c', '1', 'h2load', '-d', body, '-H', 'content-type: application/grpc', '-H', 'te: trailers', '-c', String(clients), '-m', String(streams / clients), '-D', String(SECONDS), '--log-file', log];
  if (rps !== undefined) args.push('--rps', String(rps / clients));
  args.push(`http://127.0.0.1:${port}/bench.Echo/Unary`);
  const out = execFileSync('taskset', args, { maxBuffer: 16 << 20 }).toString();
  const m = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed/.exec(out);
  const lat = readFileSync(log, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => Number(l.split('\t')[2]) / 1000)
    .sort((a, b) => a - b);
  const done = Number(m?.[3] ?? lat.length);
  return { rps: done / SECONDS, p50: percentile(lat, 50), p99: percentile(lat, 99), done, failed: Number(m?.[5] ?? 0) };
}

function pingpong(port: number, size: number): number {
  const out = execFileSync('taskset', ['-c', '1', process.execPath, join(here, 'pingpong.js'), String(port), String(size), String(SECONDS)]).toString();
  return JSON.parse(out.trim().split('\n').pop()!).mbPerSec as number;
}

async function main(): Promise<void> {
  need('h2load');
  need('taskset');
  const dir = mkdtempSync(join(tmpdir(), 'kgr-bench-'));
  const backend = await startProcess(1, 'backend.js', ['0']);
  const router = await startProcess(0, 'router-process.js', [String(backend.port)]);
  const rpid = router.child.pid!;
  const results: Record<string, { direct: number[][]; router: number[][] }> = {};
  const record = (name: string, kind: 'direct' | 'router', row: number[]) => {
    results[name] ??= { direct: [], router: [] };
    results[name][kind].push(row);
  };
  try {
    // Warm the router (JIT, connections) before measuring.
    h2load(router.port, 4, 16, undefined, dir);
    const unary: [string, number, number, number | undefined][] = [
      [`unary 16 streams @${RPS} rps`, 4, 16, RPS],
      [`unary 64 streams @${RPS} rps`, 4, 64, RPS],
      ['unary 64 streams closed loop', 4, 64, undefined],
    ];
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, c, m, rps] of unary) {
        const d = h2load(backend.port, c, m, rps, dir);
        record(name, 'direct', [d.rps, d.p50, d.p99, NaN]);
        const t0 = cpuTicks(rpid);
        const r = h2load(router.port, c, m, rps, dir);
        const us = ((cpuTicks(rpid) - t0) / CLK_TCK) * 1e6;
        if (r.failed > 0) console.error(`${name}: ${r.failed} requests failed through the router`);
        record(name, 'router', [r.rps, r.p50, r.p99, us / r.done]);
      }
      for (const size of [1024, 65536]) {
        const name = `ping-pong ${size / 1024} KiB`;
        record(name, 'direct', [pingpong(backend.port, size)]);
        record(name, 'router', [pingpong(router.port, size)]);
      }
      console.error(`round ${round + 1}/${ROUNDS} done; router RSS ${rssMb(rpid).toFixed(1)} MB`);
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
    const peak = peakRssMb(rpid);
    const lines: string[] = [];
    lines.push(`kube-grpc-router bench: ${ROUNDS} round(s) of ${SECONDS} s, medians; router pinned to CPU 0, load and endpoint on CPU 1`);
    lines.push(`node ${process.version}, ${execFileSync('sh', ['-c', 'h2load --version | head -1']).toString().trim()}`);
    lines.push('');
    lines.push('| scenario | direct RPS | direct p50/p99 ms | router RPS | router p50/p99 ms | router CPU µs/req |');
    lines.push('|---|---|---|---|---|---|');
    for (const [name] of unary) {
      const d = results[name]!.direct;
      const r = results[name]!.router;
      const col = (rows: number[][], i: number) => median(rows.map((x) => x[i]!));
      lines.push(
        `| ${name} | ${col(d, 0).toFixed(0)} | ${col(d, 1).toFixed(2)} / ${col(d, 2).toFixed(2)} | ${col(r, 0).toFixed(0)} | ${col(r, 1).toFixed(2)} / ${col(r, 2).toFixed(2)} | ${col(r, 3).toFixed(1)} |`,
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
    lines.push('');
    lines.push(`router peak RSS (VmHWM over the whole run): ${peak.toFixed(1)} MB; router check: ${check}`);
    console.log(lines.join('\n'));
  } finally {
    router.child.kill('SIGTERM');
    backend.child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
