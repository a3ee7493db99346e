import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { PEER_LABEL, findBinary, missingMessage, selectPeers, startPeer, type Peer } from './peers.js';
import { ROUTER_NODE_FLAGS, here, median, need, resolveNodes, startProcess, stop } from './harness.js';

/**
 * `npm run bench:connections`: what a new client connection costs a proxy, beside a call on an open
 * one (bench/README, "What a new connection costs"). Each Node version's router
 * (bench/router-process.ts, the fs namer, the product's node flags) and each reference proxy in
 * BENCH_PEERS run on CPU 0 in turn, the endpoint and the client (bench/connection-churn.ts) on
 * CPU 1. Prints, per proxy, the median over BENCH_ROUNDS (default 3) of the CPU µs per new
 * connection beyond its call and per call on an open connection, one call at a time, with their
 * ratios to nginx's. BENCH_CONNECTIONS (default 1,000) connections and calls per round.
 */
need('taskset');
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const CONNECTIONS = Number(process.env['BENCH_CONNECTIONS'] ?? 1000);
const { nodes, notes } = resolveNodes(process.env['BENCH_NODES']);
for (const note of notes) console.error(note);

/** CPU µs per new connection beyond its call, and per call on an open connection (connection-churn.ts's line). */
interface Costs {
  connectionUs: number;
  callUs: number;
}

function churn(port: number, pids: number[]): Promise<Costs> {
  const args = ['-c', '1', process.execPath, join(here, 'connection-churn.js'), String(port), pids.join(','), String(ROUNDS), String(CONNECTIONS)];
  return new Promise((resolve, reject) => {
    const child = spawn('taskset', args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => (out += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`connection-churn.js exited ${code} against port ${port}`));
      const rounds = out.trim().split('\n').map((l) => JSON.parse(l) as Costs);
      resolve({ connectionUs: median(rounds.map((r) => r.connectionUs)), callUs: median(rounds.map((r) => r.callUs)) });
    });
  });
}

const backend = await startProcess(1, 'backend.js', ['0']);
const rows: (Costs & { label: string })[] = [];
try {
  for (const node of nodes) {
    const router = await startProcess(0, 'router-process.js', [String(backend.port)], ROUTER_NODE_FLAGS, node.exec);
    try {
      rows.push({ label: `router (Node ${node.major})`, ...(await churn(router.port, [router.child.pid!])) });
    } finally {
      await stop(router.child);
    }
  }
  for (const name of selectPeers(process.env['BENCH_PEERS'])) {
    const bin = findBinary(name);
    if (bin === undefined) {
      console.error(missingMessage(name));
      continue;
    }
    let peer: Peer | undefined;
    try {
      peer = await startPeer(name, bin, backend.port, 0);
      rows.push({ label: PEER_LABEL[name], ...(await churn(peer.port, peer.pids())) });
    } finally {
      await peer?.stop();
    }
  }
} finally {
  await stop(backend.child);
}

const nginx = rows.find((r) => r.label === PEER_LABEL.nginx);
const ratio = (us: number, of: number | undefined) => (of === undefined ? '' : ` (${(us / of).toFixed(2)}×)`);
console.log(`new connections: ${ROUNDS} round(s) of ${CONNECTIONS} connections with one call each, then ${CONNECTIONS} calls on one connection, one at a time; medians; proxy on CPU 0, client and endpoint on CPU 1 (router node flags: ${ROUTER_NODE_FLAGS.join(' ')})`);
console.log('');
console.log('| proxy | CPU µs per new connection, beyond its call | CPU µs per call on an open connection |');
console.log('|---|---|---|');
for (const r of rows) console.log(`| ${r.label} | ${r.connectionUs.toFixed(0)}${ratio(r.connectionUs, nginx?.connectionUs)} | ${r.callUs.toFixed(0)}${ratio(r.callUs, nginx?.callUs)} |`);
