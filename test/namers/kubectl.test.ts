import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KubeApiServer } from '../fixtures/k8s/api-server.js';
import { selfSignedCert } from '../fixtures/k8s/tls.js';
import { eventually } from '../support/eventually.js';

/**
 * Proves the Kubernetes API test server honest with a client nobody here wrote: kubectl (Debian's
 * `kubernetes-client`, and any other kubectl on PATH) lists and watches EndpointSlices against it.
 * Over TLS with a bearer token, as a real cluster is reached (client-go does not send bearer tokens
 * over plain http, so an http test server could not prove auth).
 */
const run = promisify(execFile);

function kubectls(): string[] {
  const found = new Set<string>();
  const candidates = [process.env.KUBECTL, '/opt/kubernetes-client/usr/bin/kubectl'];
  try {
    candidates.push(execFileSync('sh', ['-c', 'command -v kubectl'], { encoding: 'utf8' }).trim());
  } catch {
    /* not on PATH */
  }
  for (const c of candidates) {
    if (!c || !existsSync(c)) continue;
    try {
      execFileSync(c, ['version', '--client'], { stdio: 'ignore', timeout: 20_000 });
      found.add(realpathSync(c));
    } catch {
      /* not a working kubectl */
    }
  }
  return [...found];
}

const binaries = kubectls();
const tls = selfSignedCert();
const skip = binaries.length === 0 ? 'no kubectl installed (apt-get install kubernetes-client)' : !tls ? 'openssl not installed' : false;

for (const kubectl of binaries.length ? binaries : ['kubectl']) {
  test(`kubectl (${kubectl}) lists and watches EndpointSlices against the test API server`, { skip, timeout: 60_000 }, async () => {
    const api = await KubeApiServer.start({ token: 'test-token', tls: tls! });
    const home = mkdtempSync(join(tmpdir(), 'kgr-kubectl-'));
    const children: Array<ReturnType<typeof spawn>> = [];
    try {
      writeFileSync(join(home, 'config'), api.kubeconfig({ caData: tls!.cert.toString('base64') }));
      const env = { ...process.env, KUBECONFIG: join(home, 'config'), HOME: home };
      const k = async (...args: string[]) => (await run(kubectl, args, { env, timeout: 20_000 })).stdout;

      api.applyService('default', 'echo', [{ name: 'grpc', port: 80, targetPort: 8080 }]);
      api.applySlice('default', 'echo-1', 'echo', [{ ip: '10.0.0.1' }, { ip: '10.0.0.2', ready: false }], [{ name: 'grpc', port: 8080 }]);
      api.applySlice('default', 'other-1', 'other', [{ ip: '10.9.9.9' }], [{ name: 'grpc', port: 8080 }]);

      assert.deepEqual((await k('get', 'endpointslices', '-o', 'name')).trim().split('\n'), [
        'endpointslice.discovery.k8s.io/echo-1',
        'endpointslice.discovery.k8s.io/other-1',
      ]);
      const selected = await k('get', 'endpointslices.discovery.k8s.io', '-l', 'kubernetes.io/service-name=echo', '-o',
        'jsonpath={range .items[*].endpoints[*]}{.addresses[0]}={.conditions.ready}{" "}{end}');
      assert.equal(selected.trim(), '10.0.0.1=true 10.0.0.2=false');
      assert.equal((await k('get', 'services', 'echo', '-o', 'jsonpath={.spec.ports[0].targetPort}')).trim(), '8080');

      // Watch: kubectl lists, then watches from the list's resourceVersion, and sees a change.
      let out = '';
      const watch = spawn(kubectl, ['get', 'endpointslices', '-l', 'kubernetes.io/service-name=echo', '-w', '-o',
        'jsonpath={.metadata.name}:{.endpoints[*].addresses[0]}{"\\n"}'], { env });
      children.push(watch);
      watch.stdout.on('data', (d) => (out += d));
      watch.stderr.on('data', (d) => (out += d));
      await eventually('kubectl watch initial list', () => out.includes('echo-1:10.0.0.1 10.0.0.2'), 20_000);
      await eventually('kubectl watch open', () => api.openWatches('endpointslices') === 1, 20_000);
      const watchRequest = api.requests.find((r) => r.watch)!;
      assert.ok(Number(watchRequest.query.resourceVersion) > 0, 'kubectl resumed from the list resourceVersion');
      api.applySlice('default', 'echo-1', 'echo', [{ ip: '10.0.0.1' }, { ip: '10.0.0.3' }], [{ name: 'grpc', port: 8080 }]);
      await eventually('kubectl watch sees MODIFIED', () => out.includes('echo-1:10.0.0.1 10.0.0.3'), 20_000);
      assert.ok(!out.includes('other-1'), 'label selector honoured on the watch');

      // Auth: a wrong token is 401, a missing permission 403 with the RBAC wording kubectl prints.
      api.authorizer = (verb, resource) => !(verb === 'list' && resource === 'endpointslices');
      const forbidden = await k('get', 'endpointslices').then(() => '', (e: { stderr: string }) => e.stderr);
      assert.match(forbidden, /forbidden: User "system:serviceaccount:kgr:router" cannot list resource "endpointslices" in API group "discovery.k8s.io"/);
      api.token = 'rotated';
      const unauthorized = await k('get', 'services').then(() => '', (e: { stderr: string }) => e.stderr);
      assert.match(unauthorized, /Unauthorized|must be logged in/);
    } finally {
      for (const c of children) c.kill();
      await api.close();
      rmSync(home, { recursive: true, force: true });
    }
  });
}
