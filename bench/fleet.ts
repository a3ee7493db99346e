/**
 * Fleet figures (issue 13 item 5): one `kube-grpc-router control` replica, a Kubernetes API with
 * BENCH_FLEET_SERVICES Services, and 1,000 then 5,000 simulated subscribers (ADS streams, each
 * subscribed by EDS to 50 bound ids). Reports the API-server watches the control plane holds, its
 * CPU and RSS per subscriber, and how long an EndpointSlice change takes to reach the last
 * subscriber of its Service. bench/README.md "Fleet benchmark" has the method.
 *
 * Processes: the control plane is the real CLI in its own process (pinned to CPU 0, so /proc shows
 * its CPU and memory alone); the Kubernetes API (test/fixtures/k8s/api-server.ts) and every
 * subscriber share this process, pinned to CPU 1, whose own CPU is reported beside.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CLI, Started, freePort } from '../test/e2e/process.js';
import { KubeApiServer } from '../test/fixtures/k8s/api-server.js';
import { AdsSubscriber, ChannelPool, received, type Assignment } from './ads-subscriber.js';
import { CLK_TCK, bytesWritten, cpuTicks, percentile, statusMb } from './proc-stats.js';
import { ROUTER_V8_FLAGS_DEFAULT } from './harness.js';

const env = (name: string, fallback: string) => process.env[`BENCH_FLEET_${name}`] ?? fallback;
const STREAMS = env('STREAMS', '1000,5000').split(',').map(Number);
const NAMES = Number(env('NAMES', '50'));
const SERVICES = Number(env('SERVICES', '200'));
const ENDPOINTS = Number(env('ENDPOINTS', '3'));
const CHANGES = Number(env('CHANGES', '20'));
const PER_CHANNEL = Number(env('STREAMS_PER_CONNECTION', '100'));
const REST_SECONDS = Number(env('REST_SECONDS', '5'));
const TIMEOUT_MS = Number(env('TIMEOUT_S', '120')) * 1000;
/** The CLI to start (default: this build's), e.g. another branch's build to compare. */
const CONTROL_CLI = env('CLI', CLI);
/** The product's node flags (Dockerfile, daemonset.yaml), as the data-plane bench runs the router. */
const NODE_FLAGS = env('NODE_FLAGS', ROUTER_V8_FLAGS_DEFAULT).split(' ').filter(Boolean);

const NAMESPACE = 'default';
const ZONES = ['zone-a', 'zone-b', 'zone-c'];
const serviceName = (s: number) => `svc-${String(s).padStart(3, '0')}`;
/** The bound id a subscriber asks for: the k8s namer's path of the Service's port named `grpc`. */
const boundId = (s: number) => `/#/io.l5d.k8s/${NAMESPACE}/grpc/${serviceName(s)}`;
const baseEndpoints = (s: number) => Array.from({ length: ENDPOINTS }, (_, j) => ({ ip: `10.${Math.floor(s / 250)}.${s % 250}.${j + 1}`, zone: ZONES[j % ZONES.length]! }));

/** A deterministic PRNG (mulberry32), so every run subscribes the same nodes to the same names. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Subscriber `i`'s services: `NAMES` distinct ones drawn from all. */
function servicesOf(i: number): number[] {
  const rand = prng(i + 1);
  const all = Array.from({ length: SERVICES }, (_, s) => s);
  for (let k = 0; k < NAMES; k++) {
    const j = k + Math.floor(rand() * (SERVICES - k));
    [all[k], all[j]] = [all[j]!, all[k]!];
  }
  return all.slice(0, NAMES);
}

/** One EndpointSlice change as measured: delivery times (ms after the change) and what it cost. */
interface ChangeResult {
  /** To the last subscriber of the Service; NaN when some never got it. */
  last: number;
  latencies: number[];
  reached: number;
  expected: number;
  /** Control-plane CPU from the change until its ACKs were in. */
  cpuMs: number;
  /** Bytes the control plane wrote meanwhile (wchar: its sockets, and its log). */
  cpBytes: number;
  /** DiscoveryResponse bytes, responses and ClusterLoadAssignments the subscribers received meanwhile. */
  benchBytes: number;
  responses: number;
  assignments: number;
  /** The watch event's size as the API server sends it to each watch of that slice. */
  apiEventBytes: number;
}

const mb = (x: number) => `${x.toFixed(1)} MB`;
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
const ms = (x: number) => `${x.toFixed(1)} ms`;

async function main(): Promise<void> {
  const pinned = hasTaskset() && cpus().length >= 2;
  if (pinned) execFileSync('taskset', ['-a', '-cp', '1', String(process.pid)], { stdio: 'ignore' });
  else console.log('fleet: taskset or a second CPU is missing: the control plane and the bench share CPUs, so their CPU figures overlap');

  const api = await KubeApiServer.start();
  for (let s = 0; s < SERVICES; s++) {
    api.applyService(NAMESPACE, serviceName(s), [{ name: 'grpc', port: 80, targetPort: 'grpc' }]);
    api.applySlice(NAMESPACE, `${serviceName(s)}-1`, serviceName(s), baseEndpoints(s), [{ name: 'grpc', port: 8080 }]);
  }

  const dir = mkdtempSync(join(tmpdir(), 'kgr-fleet-'));
  const [xdsPort, adminPort, routerPort] = [await freePort(), await freePort(), await freePort()];
  writeFileSync(
    join(dir, 'config.yaml'),
    configYaml(api, adminPort, { label: 'fleet', dtab: `/svc => /#/io.l5d.k8s/${NAMESPACE}/grpc`, port: routerPort }) +
      // Every simulated node connects from 127.0.0.1, which the per-client bounds would count as one pod.
      `xds: {ip: 127.0.0.1, port: ${xdsPort}, maxStreams: 100000, maxNames: 100000, maxStreamsPerClient: 100000, maxConnectionsPerClient: 100000, maxSubscriptions: 10000000, maxSubscriptionsPerClient: 10000000}\n`,
  );
  const control = startMeasured(['control', '--config', join(dir, 'config.yaml'), '--log-level', 'info'], pinned);
  const pool = new ChannelPool(`127.0.0.1:${xdsPort}`, PER_CHANNEL);
  const subscribers: AdsSubscriber[] = [];
  const failures: string[] = [];

  /** The change being measured: which subscribers still lack it, and when each got it. */
  let pending: { name: string; endpoint: string; present: boolean; t0: number; waiting: Set<number>; latencies: number[]; done: () => void } | undefined;
  const events = {
    onAssignments(sub: AdsSubscriber, assignments: Assignment[], at: number) {
      const p = pending;
      if (p === undefined || !p.waiting.has(sub.index)) return;
      const a = assignments.find((x) => x.name === p.name);
      if (a === undefined || a.endpoints.includes(p.endpoint) !== p.present) return;
      p.waiting.delete(sub.index);
      p.latencies.push(at - p.t0);
      if (p.waiting.size === 0) p.done();
    },
    onEnd(sub: AdsSubscriber, status: { code?: number; details?: string; message?: string }) {
      failures.push(`${sub.nodeId}: ${status.code ?? ''} ${status.details ?? status.message ?? ''}`);
    },
  };

  const settledMemory = () => settled(control);
  /** Watch requests before the control plane's first subscriber (the direct-watch router's), left out of its count. */
  let earlierWatchRequests = 0;
  const watchRequests = () => api.requests.filter((r) => r.watch).length;
  const watches = () => ({ services: api.openWatches('services'), slices: api.openWatches('endpointslices'), requested: watchRequests() - earlierWatchRequests });

  async function open(from: number, to: number): Promise<number> {
    const t0 = performance.now();
    for (let i = from; i < to; i++) {
      const names = i === 0 ? Array.from({ length: SERVICES }, (_, s) => boundId(s)) : servicesOf(i).map(boundId);
      subscribers.push(new AdsSubscriber(i, `bench-node-${i}`, names, pool.next(), events));
    }
    for (;;) {
      const live = subscribers.slice(from, to).filter((s) => !s.ended);
      if (live.every((s) => s.synced)) break;
      if (performance.now() - t0 > TIMEOUT_MS) throw new Error(`${live.filter((s) => !s.synced).length} of ${to - from} streams not synced after ${TIMEOUT_MS / 1000} s`);
      await sleep(20);
    }
    return Math.max(...subscribers.slice(from, to).map((s) => s.syncedAt ?? 0)) - t0;
  }

  /** One EndpointSlice change (an endpoint added, or the one added before removed), timed to its last subscriber. */
  async function change(c: number, fleet: number): Promise<ChangeResult> {
    const s = (Math.floor(c / 2) * 37) % SERVICES;
    const extra = `10.255.${Math.floor(c / 2) % 250}.${s % 250}`;
    const present = c % 2 === 0;
    const ips = [...baseEndpoints(s), ...(present ? [{ ip: extra, zone: ZONES[0]! }] : [])];
    const name = boundId(s);
    const waiting = new Set(subscribers.slice(0, fleet).filter((x) => !x.ended && x.names.includes(name)).map((x) => x.index));
    const expected = waiting.size;
    const latencies: number[] = [];
    const ticks0 = cpuTicks(pid);
    const wchar0 = bytesWritten(pid);
    const got0 = { ...received };
    const reached = new Promise<void>((done) => {
      pending = { name, endpoint: `${extra}:8080`, present, t0: performance.now(), waiting, latencies, done };
    });
    const stored = api.applySlice(NAMESPACE, `${serviceName(s)}-1`, serviceName(s), ips, [{ name: 'grpc', port: 8080 }]);
    const timedOut = sleep(TIMEOUT_MS).then(() => 'timeout' as const);
    await Promise.race([reached, timedOut]);
    pending = undefined;
    // Let the ACKs land, so the CPU and bytes counted are the whole fan-out.
    await sleep(250);
    return {
      last: latencies.length === expected ? Math.max(...latencies) : NaN,
      latencies,
      reached: latencies.length,
      expected,
      cpuMs: ((cpuTicks(pid) - ticks0) / CLK_TCK) * 1000,
      cpBytes: bytesWritten(pid) - wchar0,
      benchBytes: received.bytes - got0.bytes,
      responses: received.responses - got0.responses,
      assignments: received.assignments - got0.assignments,
      apiEventBytes: Buffer.byteLength(JSON.stringify({ type: 'MODIFIED', object: stored })) + 1,
    };
  }

  let pid = 0;
  try {
    await control.waitFor(/xDS control plane listening/, 30_000);
    pid = control.child.pid!;
    console.log(
      `fleet bench ${new Date().toISOString()}, node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}); ` +
        `${SERVICES} Services × ${ENDPOINTS} endpoints in ${ZONES.length} zones; ${NAMES} names per subscriber; ${PER_CHANNEL} streams per connection; control plane flags: ${NODE_FLAGS.join(' ') || '(none)'}${pinned ? '; control plane on CPU 0, bench on CPU 1' : ''}; load average ${loadavg()[0]!.toFixed(2)}`,
    );
    const direct = await onFreePorts(() => directRouter(api, dir, pinned));
    console.log(`direct-watch mode, one router (io.l5d.k8s) routing all ${SERVICES} Services: ${direct.watches} API watches, RSS ${mb(direct.rss)} (anon ${mb(direct.anon)}) after GC, ready`);
    earlierWatchRequests = watchRequests();
    const idle = await settledMemory();
    console.log(`control plane at start (no subscriber): RSS ${mb(idle.rss)} (anon ${mb(idle.anon)}); API watches ${JSON.stringify(watches())}`);
    // One subscriber for every name, so discovery is warm and the per-subscriber figures are the streams' own.
    const warmMs = await open(0, 1);
    const warm = await settledMemory();
    console.log(`one subscriber to all ${SERVICES} names: synced in ${ms(warmMs)}; RSS ${mb(warm.rss)} (anon ${mb(warm.anon)}); API watches ${JSON.stringify(watches())}`);
    // Gone before the fleet comes, so every response counted below is a fleet subscriber's (its names stay warm for the idle TTL).
    subscribers[0]!.close();

    const rows: string[] = [];
    for (const n of STREAMS) {
      const from = subscribers.length;
      const fleet = n + 1;
      const benchCpu0 = process.cpuUsage();
      const syncMs = await open(from, fleet);
      const syncCpu = process.cpuUsage(benchCpu0);
      const w = watches();
      const restTicks0 = cpuTicks(pid);
      await sleep(REST_SECONDS * 1000);
      const restCpuPct = (((cpuTicks(pid) - restTicks0) / CLK_TCK) * 100) / REST_SECONDS;
      const mem = await settledMemory();

      const runs: ChangeResult[] = [];
      const benchCpu1 = process.cpuUsage();
      const t0 = performance.now();
      for (let c = 0; c < CHANGES; c++) runs.push(await change(c, fleet));
      const benchPct = ((process.cpuUsage(benchCpu1).user + process.cpuUsage(benchCpu1).system) / 1000 / (performance.now() - t0)) * 100;
      const lasts = runs.map((r) => r.last).sort((a, b) => a - b);
      const all = runs.flatMap((r) => r.latencies).sort((a, b) => a - b);
      const sum = (f: (r: ChangeResult) => number) => runs.reduce((a, r) => a + f(r), 0);
      if (sum((r) => r.reached) < sum((r) => r.expected)) failures.push(`${n} subscribers: ${sum((r) => r.expected) - sum((r) => r.reached)} deliveries of a change never arrived`);
      const live = subscribers.filter((s) => !s.ended).length;
      console.log(`\n${n} subscribers (${live} live, ${pool.channels} connections), ${NAMES} names each`);
      console.log(`  all streams opened at once, synced in ${ms(syncMs)} (bench CPU ${((syncCpu.user + syncCpu.system) / 1000).toFixed(0)} ms)`);
      console.log(`  API watches held by the control plane: ${w.services} on Services + ${w.slices} on EndpointSlices (watch requests made so far: ${w.requested})`);
      console.log(`  control plane at rest: CPU ${restCpuPct.toFixed(2)} % of a core over ${REST_SECONDS} s; RSS ${mb(mem.rss)} (anon ${mb(mem.anon)}) after GC`);
      console.log(`  per subscriber (over the one warm subscriber): RSS ${kb(((mem.rss - warm.rss) * 1024 * 1024) / n)}, anon ${kb(((mem.anon - warm.anon) * 1024 * 1024) / n)}; CPU at rest ${((restCpuPct / 100) * 1e6 / n).toFixed(2)} µs/s`);
      console.log(
        `  ${CHANGES} EndpointSlice changes (endpoint added/removed), ${sum((r) => r.expected) / CHANGES} subscribers each on average: ` +
          `reached ${sum((r) => r.reached)} of ${sum((r) => r.expected)}; ` +
          `to the last subscriber p50 ${ms(percentile(lasts, 50))}, p99 ${ms(percentile(lasts, 99))}, max ${ms(lasts[lasts.length - 1]!)}; ` +
          `per subscriber p50 ${ms(percentile(all, 50))}, p99 ${ms(percentile(all, 99))}`,
      );
      console.log(
        `  per change: control plane CPU ${(sum((r) => r.cpuMs) / CHANGES).toFixed(1)} ms, wrote ${kb(sum((r) => r.cpBytes) / CHANGES)}; ` +
          `subscribers received ${(sum((r) => r.responses) / CHANGES).toFixed(0)} DiscoveryResponses, ${kb(sum((r) => r.benchBytes) / CHANGES)}, ` +
          `${(sum((r) => r.assignments) / sum((r) => r.responses)).toFixed(1)} ClusterLoadAssignments and ${(sum((r) => r.benchBytes) / sum((r) => r.responses)).toFixed(0)} bytes per response; ` +
          `control plane CPU per response ${((sum((r) => r.cpuMs) / sum((r) => r.responses)) * 1000).toFixed(0)} µs; ` +
          `the API server sent ${(sum((r) => r.apiEventBytes) / CHANGES).toFixed(0)} bytes to each watch of the slice; bench CPU ${benchPct.toFixed(0)} % of a core meanwhile`,
      );
      rows.push(
        `| ${n} | ${w.services + w.slices} | ${ms(syncMs)} | ${ms(percentile(lasts, 50))} / ${ms(percentile(lasts, 99))} | ${ms(percentile(all, 50))} / ${ms(percentile(all, 99))} | ${mb(mem.rss)} | ${kb(((mem.rss - warm.rss) * 1024 * 1024) / n)} | ${restCpuPct.toFixed(2)} % | ${(sum((r) => r.cpuMs) / CHANGES).toFixed(1)} ms | ${kb(sum((r) => r.cpBytes) / CHANGES)} |`,
      );
    }
    console.log(`\nload average at the end ${loadavg()[0]!.toFixed(2)}`);
    console.log('\n| subscribers | API watches | sync (all at once) | change → last subscriber p50 / p99 | change → each subscriber p50 / p99 | RSS | RSS per subscriber | CPU at rest | CPU per change | bytes written per change |');
    console.log('|---|---|---|---|---|---|---|---|---|---|');
    for (const r of rows) console.log(r);
    // A stream that ended or a change that never arrived makes the figures wrong: say so, and fail.
    if (failures.length > 0) {
      console.log(`\nFAILED: ${failures.length} problems: ${failures.slice(0, 5).join('; ')}`);
      process.exitCode = 1;
    }
  } finally {
    for (const s of subscribers) s.close();
    pool.close();
    await control.kill();
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A config whose one namer is io.l5d.k8s on the fixture, with one router (the control plane binds through its dtab). */
function configYaml(api: KubeApiServer, adminPort: number, router: { label: string; dtab: string; port: number }): string {
  return `admin: {ip: 127.0.0.1, port: ${adminPort}}
namers:
- kind: io.l5d.k8s
  host: 127.0.0.1
  port: ${api.port}
routers:
- protocol: h2
  label: ${router.label}
  dtab: ${router.dtab}
  servers: [{ip: 127.0.0.1, port: ${router.port}}]
shutdownDelay: 0s
`;
}

const gcModule = new URL('./gc-on-signal.js', import.meta.url).href;

/** The CLI with the product's node flags (and the bench's GC hook), pinned to CPU 0 when `pinned`. */
function startMeasured(args: string[], pinned: boolean): Started {
  const nodeArgs = [...NODE_FLAGS, '--expose-gc', `--import=${gcModule}`, CONTROL_CLI, ...args];
  const child = pinned ? spawn('taskset', ['-c', '0', process.execPath, ...nodeArgs], { stdio: ['ignore', 'pipe', 'pipe'] }) : spawn(process.execPath, nodeArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
  // taskset execs node, so the pid spawned is the measured process's.
  return new Started(child);
}

/** RSS after a full GC in `proc`, so a reading is its live memory, not its sawtooth. */
async function settled(proc: Started): Promise<{ rss: number; anon: number }> {
  const gcs = () => proc.stdout.split('gc done').length;
  const before = gcs();
  proc.child.kill('SIGUSR2');
  for (const start = Date.now(); gcs() === before; ) {
    if (Date.now() - start > 10_000) throw new Error('the process did not answer the GC signal');
    await sleep(10);
  }
  const pid = proc.child.pid!;
  return { rss: statusMb(pid, 'VmRSS'), anon: statusMb(pid, 'RssAnon') };
}

/**
 * Direct-watch mode, for comparison: one per-node router with the io.l5d.k8s namer whose dtab names
 * every Service (`/svc/<s> => /#/io.l5d.k8s/…/<s>`), so it watches them all from the start, as a
 * router routing them does. Its API watches and settled RSS once /ready says yes.
 */
/**
 * `run` again (at most twice more) when a port freePort handed out was taken by another process
 * before the router bound it: the suite runs test files side by side on one machine.
 */
async function onFreePorts<T>(run: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (err) {
      if (attempt >= 3 || !String((err as Error).message).includes('EADDRINUSE')) throw err;
    }
  }
}

async function directRouter(api: KubeApiServer, dir: string, pinned: boolean): Promise<{ watches: number; rss: number; anon: number }> {
  const [port, admin] = [await freePort(), await freePort()];
  const dtab = Array.from({ length: SERVICES }, (_, s) => `/svc/${serviceName(s)} => /#/io.l5d.k8s/${NAMESPACE}/grpc/${serviceName(s)};`).join(' ');
  writeFileSync(join(dir, 'router.yaml'), configYaml(api, admin, { label: 'direct', dtab: JSON.stringify(dtab), port }));
  const before = api.openWatches();
  const router = startMeasured(['--config', join(dir, 'router.yaml'), '--log-level', 'warn'], pinned);
  try {
    for (const start = Date.now(); ; await sleep(50)) {
      const ready = await fetch(`http://127.0.0.1:${admin}/ready`).then((r) => r.status === 200, () => false);
      if (ready) break;
      if (router.child.exitCode !== null || Date.now() - start > TIMEOUT_MS) throw new Error(`the direct-watch router did not become ready\n${router.stderr}${router.stdout}`);
    }
    // Ready means every name has listed; the watches that follow each list open after: wait until their count holds still for a second.
    let watches = api.openWatches() - before;
    for (let stable = 0; stable < 10; stable++, await sleep(100)) {
      const now = api.openWatches() - before;
      if (now !== watches) [watches, stable] = [now, 0];
    }
    return { watches, ...(await settled(router)) };
  } finally {
    await router.kill();
  }
}

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
