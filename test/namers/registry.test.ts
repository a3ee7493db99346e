import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, renameSync, symlinkSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeApiServer } from '../fixtures/k8s/api-server.js';
import { selfSignedCert } from '../fixtures/k8s/tls.js';
import { createNamer, namerKinds } from '../../src/namers/registry.js';
import { KubeConnection } from '../../src/namers/k8s/connection.js';
import { K8sNamer } from '../../src/namers/k8s/k8s-namer.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { Logger } from '../../src/util/log.js';
import { Path } from '../../src/dtab/path.js';
import type { Namer } from '../../src/namers/namer.js';
import { Watching, boundOf, hostPorts, sameSet, capturingLogger } from './helpers.js';
import { eventually } from '../support/eventually.js';

const p = (text: string) => new Path(text.split('/').filter(Boolean));
const deps = (env: NodeJS.ProcessEnv, log = Logger.silent()) => ({ metrics: new Metrics({ processMetrics: false }), log, env });
const tls = selfSignedCert();

test('namerKinds lists every kind createNamer builds; unknown kinds and bad config are clear errors', async () => {
  assert.deepEqual(namerKinds.names(), ['io.l5d.k8s', 'io.l5d.k8s.ns', 'io.l5d.dns', 'io.l5d.dnssrv', 'io.l5d.fs', 'io.l5d.xds']);
  const d = deps({});
  await assert.rejects(createNamer({ kind: 'io.l5d.nope', prefix: '/#/x' } as never, d), /unknown kind "io.l5d.nope"/);
  await assert.rejects(createNamer({ kind: 'io.l5d.k8s.ns', prefix: '' }, d), /needs the namespace in environment variable POD_NAMESPACE/);
  await assert.rejects(createNamer({ kind: 'io.l5d.fs', prefix: '/#/io.l5d.fs', rootDir: '' }, d), /needs rootDir/);
  await assert.rejects(createNamer({ kind: 'io.l5d.dns', prefix: 'nope', refreshIntervalSeconds: 5, maxNames: 1000 }, d), /prefix "nope" is not a path/);
  const fs = await createNamer({ kind: 'io.l5d.fs', prefix: '', rootDir: tmpdir() }, d);
  assert.equal(fs.prefix.show(), '/#/io.l5d.fs');
  const dns = await createNamer({ kind: 'io.l5d.dns', prefix: '/#/dns', refreshIntervalSeconds: 5, maxNames: 1000 }, d);
  assert.equal(dns.prefix.show(), '/#/dns');
  assert.equal(dns.kind, 'io.l5d.dns');
});

test('io.l5d.k8s.ns via Linkerd host/port (kubectl proxy): namespace from POD_NAMESPACE, local node from NODE_NAME', async () => {
  const api = await KubeApiServer.start();
  const { namer } = await createNamer(
    { kind: 'io.l5d.k8s.ns', prefix: '/#/io.l5d.k8s.ns', host: '127.0.0.1', port: api.port, preferLocalNode: true },
    deps({ POD_NAMESPACE: 'team-a', NODE_NAME: 'node-1' }),
  );
  try {
    api.applyService('team-a', 'echo', [{ name: 'grpc', port: 80 }]);
    api.applySlice('team-a', 'echo-1', 'echo', [{ ip: '10.0.0.1', nodeName: 'node-1' }, { ip: '10.0.0.2', nodeName: 'node-2' }], [{ name: 'grpc', port: 80 }]);
    const a = namer.lookup(p('/grpc/echo'));
    const w = new Watching(a);
    const bound = await eventually('boundOf(a)', () => boundOf(a));
    assert.equal(bound.id.show(), '/#/io.l5d.k8s.ns/grpc/echo');
    const addr = new Watching(bound.addr);
    await eventually('local node only', () => sameSet(hostPorts(bound.addr.sample), ['10.0.0.1:80']), 5000);
    // `_` is the Service's first port (kuberesolver targets without a port).
    const first = namer.lookup(p('/_/echo'));
    const wf = new Watching(first);
    const fb = await eventually('boundOf(first)', () => boundOf(first));
    const fa = new Watching(fb.addr);
    await eventually("sameSet(hostPorts(fb.addr.sample), ['10.0.0.1:80'])", () => sameSet(hostPorts(fb.addr.sample), ['10.0.0.1:80']));
    for (const x of [fa, wf, addr, w]) x.close();
  } finally {
    await namer.close?.();
    await api.close();
  }
});

/** Publish service `default/echo` with one endpoint and watch the namer until it answers that endpoint. */
async function watchEcho(api: KubeApiServer, namer: Namer) {
  api.applyService('default', 'echo', [{ name: 'grpc', port: 80 }]);
  api.applySlice('default', 'echo-1', 'echo', [{ ip: '10.0.0.1' }], [{ name: 'grpc', port: 80 }]);
  const a = namer.lookup(p('/default/grpc/echo'));
  const w = new Watching(a);
  const bound = await eventually('boundOf(a)', () => boundOf(a));
  const addr = new Watching(bound.addr);
  await eventually("sameSet(hostPorts(bound.addr.sample), ['10.0.0.1:80'])", () => sameSet(hostPorts(bound.addr.sample), ['10.0.0.1:80']));
  return { bound, addr, w };
}

test('kubeconfig from KUBECONFIG: TLS with the CA from the file and a bearer token', { skip: !tls && 'openssl not installed' }, async () => {
  const api = await KubeApiServer.start({ token: 'kc-token', tls: tls! });
  const dir = mkdtempSync(join(tmpdir(), 'kgr-kc-'));
  writeFileSync(join(dir, 'config'), api.kubeconfig({ caData: tls!.cert.toString('base64') }));
  const { namer } = await createNamer({ kind: 'io.l5d.k8s', prefix: '/#/io.l5d.k8s' }, deps({ KUBECONFIG: join(dir, 'config'), HOME: dir }));
  try {
    const { addr, w } = await watchEcho(api, namer);
    assert.ok(api.requests.every((r) => r.status === 200));
    addr.close();
    w.close();
  } finally {
    await namer.close?.();
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('in-cluster service account: CA bundle, token re-read when kubelet rotates it (symlink swap)', { skip: !tls && 'openssl not installed' }, async () => {
  const api = await KubeApiServer.start({ token: 'token-1', tls: tls! });
  const sa = mkdtempSync(join(tmpdir(), 'kgr-sa-'));
  // kubelet's projected volume layout: files are symlinks into a ..data directory swapped atomically.
  mkdirSync(join(sa, '..v1'));
  writeFileSync(join(sa, '..v1', 'token'), 'token-1');
  writeFileSync(join(sa, '..v1', 'ca.crt'), tls!.cert);
  writeFileSync(join(sa, '..v1', 'namespace'), 'default');
  symlinkSync('..v1', join(sa, '..data'));
  for (const f of ['token', 'ca.crt', 'namespace']) symlinkSync(join('..data', f), join(sa, f));
  const connection = await KubeConnection.resolve({ env: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(api.port) }, serviceAccountDir: sa });
  assert.equal(connection.source, 'in-cluster');
  assert.equal(connection.namespace, 'default');
  const { log, lines } = capturingLogger();
  const namer = new K8sNamer({ prefix: Path.of('#', 'io.l5d.k8s'), connection, metrics: new Metrics({ processMetrics: false }), log, backoffMinMs: 20, backoffMaxMs: 200 });
  try {
    const { bound, addr, w } = await watchEcho(api, namer);
    await eventually('both watches open', () => api.openWatches() === 2, 5000);
    // Rotate: the API server now only accepts token-2; kubelet swaps ..data to a new directory.
    mkdirSync(join(sa, '..v2'));
    writeFileSync(join(sa, '..v2', 'token'), 'token-2');
    writeFileSync(join(sa, '..v2', 'ca.crt'), tls!.cert);
    writeFileSync(join(sa, '..v2', 'namespace'), 'default');
    symlinkSync('..v2', join(sa, '..data_tmp'));
    renameSync(join(sa, '..data_tmp'), join(sa, '..data'));
    api.token = 'token-2';
    api.closeWatches();
    api.applySlice('default', 'echo-1', 'echo', [{ ip: '10.0.0.2' }], [{ name: 'grpc', port: 80 }]);
    await eventually('continued with the rotated token', () => sameSet(hostPorts(bound.addr.sample), ['10.0.0.2:80']), 5000);
    assert.ok(!lines.some((l) => l.includes('unauthorized')), 'no 401 after rotation');
    addr.close();
    w.close();
  } finally {
    namer.close();
    await api.close();
    rmSync(sa, { recursive: true, force: true });
  }
});
