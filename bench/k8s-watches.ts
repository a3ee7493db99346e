import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { ROUTER_NODE_FLAGS, here, resolveNodes, type NodeRuntime } from './harness.js';
import { KubeApiServer } from '../test/fixtures/k8s/api-server.js';
import { selfSignedCert } from '../test/fixtures/k8s/tls.js';

/**
 * `npm run bench:k8s-watches`: what one Kubernetes watch pair (the Service and its EndpointSlices,
 * one per (namespace, service) a route names) costs the router's memory. A child process with the
 * product's node flags (bench/watch-holder.ts) runs an `io.l5d.k8s` namer and names made-up Services
 * (empty lists, as a pod naming services that do not exist makes it do), BENCH_WATCHES at a time
 * (cumulative, default 0,100,500,1000); once the API server holds 2 × N open watches and 2 s have
 * passed it reads, after a full GC: VmRSS, RssAnon, V8's heap and external memory, malloc'd memory
 * and Node's active handles. Per pair = (figure at N − figure at 0) / N.
 * The API is the test server (test/fixtures/k8s/api-server.ts): `https`, as in a cluster (a CA file,
 * a bearer token, TLS 1.3, the watches as HTTP/2 streams on shared sessions), and `http` (a kubectl
 * proxy: HTTP/1.1, one connection per watch).
 * Env: BENCH_NODES (`20,24`), BENCH_WATCHES, BENCH_K8S_APIS (`https,http`), BENCH_K8S_SNAPSHOT (a
 * directory: heap snapshots at the first and last N, and what grew between them by constructor).
 */
const counts = (process.env['BENCH_WATCHES'] ?? '0,100,500,1000').split(',').map(Number);
const apis = (process.env['BENCH_K8S_APIS'] ?? 'https,http').split(',');
const snapshotDir = process.env['BENCH_K8S_SNAPSHOT'];
const { nodes, notes } = resolveNodes(process.env['BENCH_NODES']);
for (const n of notes) console.error(n);
const tls = selfSignedCert();
if (!tls && apis.includes('https')) throw new Error('bench:k8s-watches needs openssl for the https API');

interface Reading {
  watches: number;
  rss: number;
  rssAnon: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  mallocedMemory: number;
  resources: Record<string, number>;
}

const MB = 2 ** 20;
const rows: string[] = [];
const perPair: string[] = [];
const sa = mkdtempSync(join(tmpdir(), 'kgr-watch-sa-'));
try {
  for (const scheme of apis) {
    const api = await KubeApiServer.start(scheme === 'https' ? { token: 'bench-token', tls: tls! } : {});
    writeFileSync(join(sa, 'token'), 'bench-token');
    writeFileSync(join(sa, 'ca.crt'), tls?.cert ?? '');
    writeFileSync(join(sa, 'namespace'), 'default');
    try {
      for (const node of nodes) {
        const measured = holder(node, scheme, api);
        try {
          const readings: Reading[] = [];
          for (const n of counts) {
            await measured.hold(n);
            await sleep(2000);
            const r = (await measured.ask('measure')) as Reading;
            readings.push(r);
            const base = readings[0]!;
            const per = (f: keyof Reading) => (n > 0 && base.watches === 0 ? `${(((r[f] as number) - (base[f] as number)) / n / 1024).toFixed(1)}` : '');
            rows.push(
              `| ${scheme} | ${node.label} | ${n} | ${(r.rss / MB).toFixed(1)} | ${(r.rssAnon / MB).toFixed(1)} | ${(r.heapUsed / MB).toFixed(1)} | ${(r.external / MB).toFixed(1)} | ${(r.mallocedMemory / MB).toFixed(1)} | ${Object.entries(r.resources).map(([k, v]) => `${k} ${v}`).join(', ')} |`,
            );
            if (n > 0) perPair.push(`| ${scheme} | ${node.label} | ${n} | ${per('rss')} | ${per('rssAnon')} | ${per('heapUsed')} | ${per('external')} | ${per('mallocedMemory')} |`);
          }
        } finally {
          await measured.close();
        }
        if (!snapshotDir) continue;
        // In a process of their own: writing a snapshot leaves the allocator holding ~100 MB, which would count as the watches'.
        const snapped = holder(node, scheme, api);
        try {
          const [from, to] = [counts[0]!, counts[counts.length - 1]!];
          const files: string[] = [];
          for (const n of [from, to]) {
            await snapped.hold(n);
            files.push((await snapped.ask(`snapshot ${join(snapshotDir, `watches-${scheme}-node${node.key}-${n}.heapsnapshot`)}`)).snapshot);
          }
          console.log(`${scheme} ${node.label}: V8 heap growth by constructor from N = ${from} to ${to} (heap snapshots in ${snapshotDir}), per pair:`);
          for (const line of heapGrowth(files[0]!, files[1]!, to - from)) console.log(line);
        } finally {
          await snapped.close();
        }
      }
    } finally {
      await api.close();
    }
  }
} finally {
  rmSync(sa, { recursive: true, force: true });
}
console.log(`router memory with N Kubernetes watch pairs of made-up Services (after a full GC; MB = 2^20 bytes; node flags: ${ROUTER_NODE_FLAGS.join(' ')})`);
console.log('| API | Node | N | RSS MB | RssAnon MB | V8 heap used MB | external MB | malloced MB | active resources |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const r of rows) console.log(r);
console.log('\nper watch pair, KiB ((N − 0) / N)');
console.log('| API | Node | N | RSS | RssAnon | V8 heap used | external | malloced |');
console.log('|---|---|---|---|---|---|---|---|');
for (const r of perPair) console.log(r);

/** A watch-holder child on `node` against `api`; `hold` resolves once the API server has its 2 × N watches open. */
function holder(node: NodeRuntime, scheme: string, api: KubeApiServer) {
  const child = spawn(
    node.exec,
    [...ROUTER_NODE_FLAGS, '--expose-gc', join(here, 'watch-holder.js'), scheme === 'https' ? `in-cluster=${sa}` : `proxy=${api.port}`],
    { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(api.port) } },
  );
  const answers = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const ask = async (cmd: string): Promise<any> => {
    child.stdin!.write(cmd + '\n');
    const next = await answers.next();
    if (next.done) throw new Error(`watch-holder ended before answering ${cmd}`);
    return JSON.parse(next.value);
  };
  return {
    ask,
    async hold(n: number): Promise<void> {
      await ask(`hold ${n}`);
      for (const start = Date.now(); api.openWatches() < 2 * n; await sleep(50)) {
        if (Date.now() - start > 120_000) throw new Error(`${scheme} ${node.label}: ${api.openWatches()} of ${2 * n} watches open after 120 s`);
      }
    },
    async close(): Promise<void> {
      child.stdin!.end();
      if (child.exitCode === null) await new Promise((r) => child.once('exit', r));
    },
  };
}

type Sums = Map<string, { count: number; bytes: number }>;

/** Self size and count by constructor (objects and closures) or node type (strings, arrays, code…). */
function byConstructor(file: string): Sums {
  const snap = JSON.parse(readFileSync(file, 'utf8'));
  const fields: string[] = snap.snapshot.meta.node_fields;
  const types: string[] = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const [t, n, s] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f));
  const sums: Sums = new Map();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + t]]!;
    const key = type === 'object' || type === 'closure' || type === 'native' ? `${snap.strings[snap.nodes[i + n]]} (${type})` : `(${type})`;
    const e = sums.get(key) ?? { count: 0, bytes: 0 };
    e.count++;
    e.bytes += snap.nodes[i + s];
    sums.set(key, e);
  }
  return sums;
}

/** The 25 constructors that grew most between two heap snapshots: count and bytes per pair. */
function heapGrowth(before: string, after: string, pairs: number): string[] {
  const a = byConstructor(before);
  const b = byConstructor(after);
  const growth = [...b].map(([k, e]) => ({ k, count: e.count - (a.get(k)?.count ?? 0), bytes: e.bytes - (a.get(k)?.bytes ?? 0) }));
  growth.sort((x, y) => y.bytes - x.bytes);
  const total = growth.reduce((sum, g) => sum + g.bytes, 0);
  return [
    `  total ${(total / pairs / 1024).toFixed(1)} KiB per pair`,
    ...growth.slice(0, 25).map((g) => `  ${(g.bytes / pairs / 1024).toFixed(2).padStart(7)} KiB ${(g.count / pairs).toFixed(1).padStart(6)} × ${g.k}`),
  ];
}
