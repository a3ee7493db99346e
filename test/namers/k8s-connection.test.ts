import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeApiServer } from '../fixtures/k8s/api-server.js';
import { selfSignedCert } from '../fixtures/k8s/tls.js';
import { KubeConnection } from '../../src/namers/k8s/connection.js';
import { K8sNamer } from '../../src/namers/k8s/k8s-namer.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { Logger } from '../../src/util/log.js';
import { Path } from '../../src/dtab/path.js';
import { Watching, boundOf, hostPorts, isNeg, sameSet } from './helpers.js';
import { eventually } from '../support/eventually.js';

/** The in-cluster connection's requests over TLS: what each watch costs in connections, and CA rotation. */
const first = selfSignedCert();
const second = selfSignedCert();
const skip = (!first || !second) && 'openssl not installed';

async function inCluster(tls: { key: Buffer; cert: Buffer }, run: (api: KubeApiServer, namer: K8sNamer, sa: string) => Promise<void>): Promise<void> {
  const api = await KubeApiServer.start({ token: 'token', tls });
  const sa = mkdtempSync(join(tmpdir(), 'kgr-sa-'));
  writeFileSync(join(sa, 'token'), 'token');
  writeFileSync(join(sa, 'ca.crt'), tls.cert);
  writeFileSync(join(sa, 'namespace'), 'default');
  const connection = KubeConnection.resolve({ env: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(api.port) }, serviceAccountDir: sa });
  assert.equal(connection.source, 'in-cluster');
  const namer = new K8sNamer({ prefix: Path.of('#', 'io.l5d.k8s'), connection, metrics: new Metrics({ processMetrics: false }), log: Logger.silent(), backoffMinMs: 20, backoffMaxMs: 200 });
  try {
    await run(api, namer, sa);
  } finally {
    namer.close();
    await api.close();
    rmSync(sa, { recursive: true, force: true });
  }
}

test('each watch costs one TLS connection: a watch goes on over the connection its list used (one shared keep-alive agent)', { skip }, () =>
  inCluster(first!, async (api, namer) => {
    const names = ['a', 'b', 'c'].map((s) => new Watching(namer.lookup(Path.of('default', 'grpc', s))));
    await eventually('three made-up Services are Neg', () => names.every((n) => isNeg(n.v as never)), 5000);
    await eventually('their six watches are open', () => api.openWatches() === 6, 5000);
    const lists = api.requests.filter((r) => !r.watch).length;
    assert.equal(lists, 6);
    // With an agent per request each list and each watch had a connection of its own (12).
    assert.equal(api.connectionsAccepted, 6, `${api.connectionsAccepted} connections for 6 lists and 6 watches`);
    // A watch the server ends resumes over the same connection.
    api.closeWatches();
    await eventually('the watches resumed', () => api.requests.filter((r) => r.watch).length === 12 && api.openWatches() === 6, 5000);
    assert.equal(api.connectionsAccepted, 6);
    for (const n of names) n.close();
  }));

test('a rotated CA bundle (ca.crt) is used for the next connection: watches converge after the API server changes its certificate', { skip }, () =>
  inCluster(first!, async (api, namer, sa) => {
    api.applyService('default', 'echo', [{ name: 'grpc', port: 80 }]);
    api.applySlice('default', 'echo-1', 'echo', [{ ip: '10.0.0.1' }], [{ name: 'grpc', port: 80 }]);
    const name = namer.lookup(Path.of('default', 'grpc', 'echo'));
    const w = new Watching(name);
    const bound = await eventually('bound', () => boundOf(name), 5000);
    const addr = new Watching(bound.addr);
    await eventually('first endpoints', () => sameSet(hostPorts(bound.addr.sample), ['10.0.0.1:80']), 5000);
    await api.stop();
    writeFileSync(join(sa, 'ca.crt'), second!.cert);
    await api.restart(second!);
    api.applySlice('default', 'echo-1', 'echo', [{ ip: '10.0.0.2' }], [{ name: 'grpc', port: 80 }]);
    await eventually('endpoints seen over the new certificate', () => sameSet(hostPorts(bound.addr.sample), ['10.0.0.2:80']), 5000);
    addr.close();
    w.close();
  }));
