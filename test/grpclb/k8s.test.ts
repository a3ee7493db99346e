import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { parseConfig } from '../../src/config/load.js';
import { KubeApiServer } from '../fixtures/k8s/api-server.js';
import { lbClient, LbStream, startLb } from './harness.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** The ConfigMap of daemonset.yaml: its base dtab and its live `dtab` key, as shipped. */
function shippedDtabs(): { base: string; live: string } {
  const docs = parseAllDocuments(readFileSync(join(ROOT, 'daemonset.yaml'), 'utf8')).map((d) => d.toJS() as Record<string, any>); // eslint-disable-line @typescript-eslint/no-explicit-any
  const cm = docs.find((d) => d?.kind === 'ConfigMap')!;
  const { config } = parseConfig(cm.data['config.yaml'] as string, { source: 'daemonset.yaml#config.yaml' });
  return { base: config.routers.find((r) => r.label === config.grpclb!.router)!.dtab, live: cm.data.dtab as string };
}

/**
 * What the DaemonSet ships, against the Kubernetes API test server: the io.l5d.k8s namer watching
 * EndpointSlices, the shipped dtabs, and a grpclb client asking for the name grpclb.yaml's Service
 * gives (`echo-server-lb.default`). Pods come, stop being ready, and go; the Service goes and comes.
 */
test('with the shipped dtab and the Kubernetes namer, EndpointSlice changes reach a grpclb stream within a second', async (t) => {
  const api = await KubeApiServer.start();
  const { base, live } = shippedDtabs();
  const lb = await startLb({ baseDtab: base, dtab: live, namers: `- {kind: io.l5d.k8s, host: 127.0.0.1, port: ${api.port}}` });
  const client = lbClient(lb.lbAddress);
  t.after(async () => {
    client.close();
    await lb.close();
    await api.stop();
  });
  api.applyService('default', 'echo-server', [{ name: 'grpc', port: 8080, targetPort: 'grpc' }]);
  const pods = (...n: number[]) => n.map((i) => ({ ip: `10.1.0.${i}` }));
  api.applySlice('default', 'echo-server-a', 'echo-server', pods(1, 2), [{ name: 'grpc', port: 8080 }]);

  const s = new LbStream(client);
  s.send({ initial_request: { name: 'echo-server-lb.default:4140' } });
  assert.equal((await s.next(5000)).load_balance_response_type, 'initial_response');
  assert.deepEqual(await s.nextList(5000), ['10.1.0.1:8080', '10.1.0.2:8080']);

  const within = async (what: string, change: () => void, expected: string[]) => {
    const t0 = performance.now();
    change();
    assert.deepEqual(await s.nextList(1000), expected, what);
    t.diagnostic(`${what}: ${(performance.now() - t0).toFixed(0)} ms`);
  };
  await within('scale-out (a second slice)', () => api.applySlice('default', 'echo-server-b', 'echo-server', pods(3), [{ name: 'grpc', port: 8080 }]), [
    '10.1.0.1:8080',
    '10.1.0.2:8080',
    '10.1.0.3:8080',
  ]);
  await within('a pod stops being ready', () => api.applySlice('default', 'echo-server-a', 'echo-server', [{ ip: '10.1.0.1' }, { ip: '10.1.0.2', ready: false }], [{ name: 'grpc', port: 8080 }]), [
    '10.1.0.1:8080',
    '10.1.0.3:8080',
  ]);
  await within('a slice is deleted', () => api.delete('endpointslices', 'default', 'echo-server-b'), ['10.1.0.1:8080']);
  await within('the Service is deleted', () => api.delete('services', 'default', 'echo-server'), []);
  await within('and created again', () => api.applyService('default', 'echo-server', [{ name: 'grpc', port: 8080, targetPort: 'grpc' }]), ['10.1.0.1:8080']);
  s.cancel();
});
