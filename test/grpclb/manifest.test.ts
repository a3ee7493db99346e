import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { parseConfig } from '../../src/config/load.js';
import { parseDtab, parsePath, type Path } from '../../src/dtab/index.js';
import { serviceName } from '../../src/grpclb/server.js';

// Read from the source tree (dist/test/grpclb → repo root).
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function objects(file: string): Obj[] {
  return parseAllDocuments(readFileSync(join(ROOT, file), 'utf8')).flatMap((doc) => {
    const d = doc as unknown as { errors: unknown[]; toJS(): unknown };
    assert.deepEqual(d.errors, [], `${file} is valid YAML`);
    const js = d.toJS() as Obj | null;
    return js ? [js] : [];
  });
}

test('grpclb.yaml: a headless Service whose `grpclb` port reaches the grpclb listener of the DaemonSet pods, for a name the dtab routes', () => {
  const daemon = objects('daemonset.yaml');
  const ds = daemon.find((o) => o.kind === 'DaemonSet')!;
  const configMap = daemon.find((o) => o.kind === 'ConfigMap')!;
  const { config } = parseConfig(configMap.data['config.yaml'], { source: 'daemonset.yaml#config.yaml' });
  assert.ok(config.grpclb, 'the routers serve grpclb');
  assert.equal(config.grpclb.ip, '0.0.0.0', 'on the pod IP');
  const router = (ds.spec.template.spec.containers as Obj[]).find((c) => c.name === 'router')!;
  const containerPort = (router.ports as Obj[]).find((p) => p.name === 'grpclb')!;
  assert.equal(containerPort.containerPort, config.grpclb.port, 'the container port named grpclb is the grpclb listener');
  assert.equal(containerPort.hostPort, undefined, 'reached through the Service (pod IPs), not a hostPort');

  const lb = objects('grpclb.yaml');
  assert.deepEqual(lb.map((o) => `${o.kind}/${o.metadata.name}`), ['Service/echo-server-lb']);
  const service = lb[0]!;
  assert.equal(service.apiVersion, 'v1');
  assert.equal(service.spec.clusterIP, 'None', 'headless: DNS answers with the pods and SRV records');
  for (const [k, v] of Object.entries(service.spec.selector)) assert.equal(ds.spec.template.metadata.labels[k], v, 'selects the router pods');
  const port = (service.spec.ports as Obj[]).find((p) => p.name === 'grpclb');
  assert.ok(port, 'a port named exactly "grpclb" (what makes _grpclb._tcp.echo-server-lb SRV records)');
  assert.equal(port.targetPort, 'grpclb');
  assert.equal(service.metadata.namespace, 'default');

  // The name a client dialling dns:///echo-server-lb.default:4140 sends is routed by the live dtab
  // ++ the router dtab to the echo-server Service's grpc port.
  const name = serviceName('echo-server-lb.default:4140');
  assert.deepEqual(name, { host: `${service.metadata.name}.${service.metadata.namespace}` });
  const rc = config.routers.find((r) => r.label === config.grpclb!.router)!;
  const effective = parseDtab(configMap.data.dtab, { source: 'dtab' }).concat(parseDtab(rc.dtab));
  let path: Path = parsePath(`${rc.dstPrefix}/${(name as { host: string }).host}`);
  for (let i = 0; i < 10 && !path.show().startsWith('/#/'); i++) {
    const tree = effective.lookup(path);
    assert.equal(tree.kind, 'leaf', `${path.show()} rewrites to one path`);
    path = (tree as { value: { path: Path } }).value.path;
  }
  assert.equal(path.show(), '/#/io.l5d.k8s/default/grpc/echo-server');
});
