import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROUTER_NODE_FLAGS, canMountInPod, fsNamer, h2load, need, resolveNodes, rssMb, startProcess, startProduct, stop, type ProductNamer } from './harness.js';
import { KubeApiServer } from '../test/fixtures/k8s/api-server.js';
import { selfSignedCert } from '../test/fixtures/k8s/tls.js';
import { startK8sControlPlane } from '../test/fixtures/xds/k8s-control-plane.js';

/**
 * `npm run bench:namer-rss`: what the product's own process (dist/src/cli.js, admin on, product node
 * flags, pinned to CPU 0) costs in RSS with each way the DaemonSet can find endpoints, at rest and
 * under BENCH_RPS (default 3,000) calls/s at 16 then 64 streams (highest 1 s sample):
 * - `io.l5d.fs`: a file per service (issue 11's RSS target, the laptop demo);
 * - `io.l5d.k8s`: list/watch of Services and EndpointSlices against the Kubernetes API test server (the
 *   DaemonSet's default), three ways: in a pod (the service account's token and CA over TLS, shown
 *   where kubelet mounts them by a mount namespace of the product's own: needs root or `unshare -r`),
 *   on Linkerd's `host`/`port` (plain HTTP, a kubectl proxy), and through a kubeconfig (`KUBECONFIG`,
 *   the one way that loads @kubernetes/client-node);
 * - `io.l5d.xds`: subscribed to a control plane (this process) that watches the same API server
 *   (control-plane.yaml, for large clusters).
 * Beside them a bare `node` with the same flags. Env: BENCH_NODES (`20,24`), BENCH_RPS, BENCH_SECONDS (4).
 */
need('h2load');
need('taskset');
const RPS = Number(process.env['BENCH_RPS'] ?? 3000);
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 4);
const { nodes, notes } = resolveNodes(process.env['BENCH_NODES']);
for (const n of notes) console.error(n);

const dir = mkdtempSync(join(tmpdir(), 'kgr-namer-rss-'));
const backend = await startProcess(1, 'backend.js', ['0']);
const cert = selfSignedCert();
const [api, secureApi] = [await KubeApiServer.start(), cert ? await KubeApiServer.start({ token: 'bench-token', tls: cert }) : undefined];
for (const server of [api, secureApi]) {
  server?.applyService('default', 'echo', [{ name: 'grpc', port: 80, targetPort: 'grpc' }]);
  server?.applySlice('default', 'echo-1', 'echo', [{ ip: '127.0.0.1' }], [{ name: 'grpc', port: backend.port }]);
}
const control = await startK8sControlPlane(api.port);
const viaK8s = '/svc/bench.Echo => /#/io.l5d.k8s/default/grpc/echo;';
writeFileSync(join(dir, 'kubeconfig'), api.kubeconfig({ skipTlsVerify: true }));
const noPod = { KUBERNETES_SERVICE_HOST: '', KUBERNETES_SERVICE_PORT: '' };
const namers: [string, ProductNamer][] = [['io.l5d.fs', fsNamer(dir, backend.port)]];
if (secureApi && cert && canMountInPod()) {
  const sa = join(dir, 'serviceaccount');
  mkdirSync(sa);
  writeFileSync(join(sa, 'token'), 'bench-token');
  writeFileSync(join(sa, 'ca.crt'), cert.cert);
  writeFileSync(join(sa, 'namespace'), 'default');
  const env = { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(secureApi.port) };
  namers.push(['io.l5d.k8s in a pod (service account, TLS)', { namer: '{kind: io.l5d.k8s}', dtab: viaK8s, env, serviceAccount: sa }]);
} else console.error(`io.l5d.k8s in a pod: not measured (${!cert ? 'openssl not installed' : 'unshare -m failed: needs root or unprivileged user namespaces'})`);
namers.push(
  ['io.l5d.k8s on host/port (kubectl proxy)', { namer: `{kind: io.l5d.k8s, host: 127.0.0.1, port: ${api.port}}`, dtab: viaK8s, env: noPod }],
  ['io.l5d.k8s through a kubeconfig', { namer: '{kind: io.l5d.k8s}', dtab: viaK8s, env: { ...noPod, KUBECONFIG: join(dir, 'kubeconfig') } }],
  ['io.l5d.xds', { namer: `{kind: io.l5d.xds, prefix: /#/io.l5d.k8s, servers: ["${control.address}"]}`, dtab: viaK8s }],
);

const settle = () => new Promise((r) => setTimeout(r, 2000));
const rows: string[] = [];
try {
  for (const node of nodes) {
    for (const [kind, namer] of namers) {
      const p = await startProduct(0, node, dir, namer);
      const pid = p.child.pid!;
      try {
        const deadline = Date.now() + 15_000;
        while ((await fetch(`http://127.0.0.1:${p.adminPort}/ready`).then((r) => r.status, () => 0)) !== 200) {
          if (Date.now() > deadline) throw new Error(`${kind} under ${node.label}: /ready not 200 within 15 s`);
          await new Promise((r) => setTimeout(r, 50));
        }
        await settle();
        const rest = rssMb(pid);
        let top = rest;
        let failed = 0;
        for (const streams of [16, 64]) {
          const r = await h2load(p.port, 4, streams, RPS, dir, SECONDS, pid, (rss) => (top = Math.max(top, rss)));
          failed += r.failed;
        }
        rows.push(`| ${kind} | ${node.label} | ${rest.toFixed(1)} | ${top.toFixed(1)} | ${failed} |`);
      } finally {
        await stop(p.child);
      }
    }
    const bare = spawn('taskset', ['-c', '0', node.exec, ...ROUTER_NODE_FLAGS, '-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    try {
      await settle();
      rows.push(`| bare \`node\`, only waiting | ${node.label} | ${rssMb(bare.pid!).toFixed(1)} | | |`);
    } finally {
      await stop(bare);
    }
  }
} finally {
  await control.plane.close();
  await api.close();
  await secureApi?.close();
  await stop(backend.child);
  rmSync(dir, { recursive: true, force: true });
}
console.log(`product process RSS by namer (MB = 2^20 bytes, VmRSS; node flags: ${ROUTER_NODE_FLAGS.join(' ')}; ${RPS} calls/s for ${SECONDS} s at 16 then 64 streams)`);
console.log('| namer | Node | at rest MB | under load MB (highest 1 s sample) | failed calls |');
console.log('|---|---|---|---|---|');
for (const r of rows) console.log(r);
