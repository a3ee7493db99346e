import * as http2 from 'node:http2';
import * as net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fsNamer, resolveNodes, rssMb, startProduct, type NodeRuntime } from './harness.js';
import { CLIENT_PREFACE, FrameWriter, SettingId } from '../src/h2/frames.js';
import { HpackEncoder } from '../src/h2/hpack/index.js';

/**
 * What pods that read none of their answers make the router hold (the hostile-inputs rule: every
 * pod on a node shares its router, whose DaemonSet limit is 256 MiB). Each pod (a client address,
 * 127.0.0.2 and up) opens `calls` calls over 5 connections whose stream windows it shuts
 * (SETTINGS_INITIAL_WINDOW_SIZE 0), to an endpoint that answers each with 1 MiB at once. The
 * router is the product's process (cli.js, the io.l5d.fs namer, default limits, product node
 * flags), per Node version in BENCH_NODES. Two scenarios:
 * - `shared`: four pods, 5,000 calls each (the per-pod and per-server call limits), to an endpoint
 *   allowing 1,000 streams per connection: the router's connection windows bind. With four pods
 *   the server's maxConcurrentRequests (20,000) is taken, so another pod's call is refused; the
 *   same with three pods shows whether it is answered meanwhile;
 * - `one-per-connection`: one pod, 5,000 calls, to an endpoint allowing one stream per connection:
 *   the router's connection count (client.maxConnectionsPerEndpoint) binds.
 * Prints, per scenario, the router's RSS before and at its highest (1 s samples over BENCH_SECONDS,
 * default 6), what /metrics says it buffers, and whether another pod's call is still answered.
 *
 * Usage: npm run bench:answer-flood
 */
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 6);
const ANSWER = 1 << 20;
const CONNECTIONS_PER_POD = 5;
const { nodes, notes } = resolveNodes(process.env['BENCH_NODES'] ?? '24');
for (const n of notes) console.error(n);

interface Scenario {
  name: string;
  pods: number;
  callsPerPod: number;
  endpointStreamLimit: number;
}
const SCENARIOS: Scenario[] = [
  { name: 'shared', pods: 4, callsPerPod: 5000, endpointStreamLimit: 1000 },
  { name: 'shared', pods: 3, callsPerPod: 5000, endpointStreamLimit: 1000 },
  { name: 'one-per-connection', pods: 1, callsPerPod: 5000, endpointStreamLimit: 1 },
];

for (const node of nodes) for (const s of SCENARIOS) console.log(await run(node, s));

async function run(node: NodeRuntime, s: Scenario): Promise<string> {
  const body = Buffer.alloc(ANSWER, 1);
  // A large maxSessionMemory: it holds every answer the router does not take (Node's default refuses streams past 10 MB).
  const endpoint = http2.createServer({ settings: { maxConcurrentStreams: s.endpointStreamLimit }, maxSessionMemory: 1e6 });
  let endpointStreams = 0;
  endpoint.on('session', (session) => session.on('error', () => {}));
  endpoint.on('stream', (stream) => {
    endpointStreams++;
    stream.on('error', () => {});
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
    stream.write(body);
  });
  await new Promise<void>((r) => endpoint.listen(0, '127.0.0.1', r));
  const dir = mkdtempSync(join(tmpdir(), 'kgr-answer-flood-'));
  const router = await startProduct(0, node, dir, fsNamer(dir, (endpoint.address() as net.AddressInfo).port));
  const pid = router.child.pid!;
  const sockets: net.Socket[] = [];
  try {
    await sleep(1000);
    const before = rssMb(pid);
    const fields: [string, string][] = [[':method', 'POST'], [':scheme', 'http'], [':path', '/bench.Echo/Big'], [':authority', 'x'], ['content-type', 'application/grpc'], ['te', 'trailers']];
    for (let pod = 0; pod < s.pods; pod++) {
      for (let c = 0; c < CONNECTIONS_PER_POD; c++) {
        const socket = net.connect({ port: router.port, host: '127.0.0.1', localAddress: `127.0.0.${2 + pod}` });
        socket.on('error', () => {});
        socket.resume();
        await new Promise((r) => socket.once('connect', r));
        const w = new FrameWriter();
        const hpack = new HpackEncoder({ huffman: 'never' });
        socket.write(CLIENT_PREFACE);
        w.settings([{ id: SettingId.INITIAL_WINDOW_SIZE, value: 0 }]);
        w.settingsAck();
        for (let i = 0; i < s.callsPerPod / CONNECTIONS_PER_POD; i++) w.headers(1 + 2 * i, hpack.encode(fields), true);
        socket.write(Buffer.concat(w.flush()));
        sockets.push(socket);
      }
    }
    let top = 0;
    for (let t = 0; t < SECONDS; t++) {
      await sleep(1000);
      top = Math.max(top, rssMb(pid));
    }
    const probe = await probeCall(router.port);
    const metrics = await (await fetch(`http://127.0.0.1:${router.adminPort}/metrics`)).text();
    const value = (re: RegExp): number => Number(re.exec(metrics)?.[1] ?? NaN) / 2 ** 20;
    return (
      `${node.label}, ${s.name} (${s.pods} pod(s) x ${s.callsPerPod} calls reading nothing, endpoint allowing ${s.endpointStreamLimit} stream(s) per connection): ` +
      `router RSS ${before.toFixed(1)} MB before, ${top.toFixed(1)} MB at most (DaemonSet limit 256 MiB = 268 MB); ` +
      `endpoint streams ${endpointStreams}; buffered ${value(/^kgr_server_buffered_bytes\{[^}]*\} (\d+)/m).toFixed(1)} MiB; ` +
      `early credit ${value(/^kgr_endpoint_window_bytes\{budget="early_credit"\} (\d+)/m).toFixed(1)} MiB, ` +
      `connection windows ${value(/^kgr_endpoint_window_bytes\{budget="connection_windows"\} (\d+)/m).toFixed(1)} MiB; ` +
      `another pod's call: ${probe}`
    );
  } finally {
    for (const socket of sockets) socket.destroy();
    router.child.kill('SIGKILL');
    endpoint.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One more pod's call (127.0.0.50) while the flood holds: its 1 MiB answer, or what it got in 5 s. */
async function probeCall(port: number): Promise<string> {
  const client = http2.connect(`http://127.0.0.1:${port}`, { createConnection: () => net.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.50' }) });
  client.on('error', () => {});
  try {
    const t0 = Date.now();
    const req = client.request({ ':method': 'POST', ':path': '/bench.Echo/Probe', 'content-type': 'application/grpc', te: 'trailers' });
    req.end(Buffer.from([0, 0, 0, 0, 0]));
    let got = 0;
    let status: string | undefined;
    req.on('response', (h) => (status = String(h['grpc-status'] ?? h[':status'])));
    return await new Promise<string>((resolve) => {
      const done = (what: string) => resolve(`${what} (${got} bytes in ${Date.now() - t0} ms)`);
      req.on('data', (d: Buffer) => {
        got += d.length;
        if (got >= ANSWER) done('answered');
      });
      req.on('close', () => done(`closed, status ${status}`));
      setTimeout(() => done('stalled'), 5000).unref();
    });
  } finally {
    client.destroy();
  }
}
