import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { parseConfig } from '../../src/config/load.js';
import { parseDtab, parsePath } from '../../src/dtab/index.js';
import { DEFAULT_XDS_SERVER } from '../../src/xds/bootstrap.js';
import { readControlConfig } from '../../src/xds/config.js';

// Read from the source tree (dist/test/deploy → repo root).
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const objects: Obj[] = parseAllDocuments(readFileSync(join(ROOT, 'control-plane.yaml'), 'utf8')).flatMap((doc) => {
  const d = doc as unknown as { errors: unknown[]; toJS(): unknown };
  assert.deepEqual(d.errors, [], 'control-plane.yaml is valid YAML');
  const js = d.toJS() as Obj | null;
  return js ? [js] : [];
});
const byKind = (kind: string) => objects.find((o) => o.kind === kind)!;
const deployment = byKind('Deployment');
const configMap = byKind('ConfigMap');
const pod = deployment.spec.template.spec as Obj;
const container = (pod.containers as Obj[])[0]!;
const text = configMap.data['config.yaml'] as string;
const { config } = parseConfig(text, { source: 'control-plane.yaml#config.yaml' });
const control = readControlConfig('control-plane.yaml#config.yaml', text, config);

test('control-plane.yaml: Deployment of two, Service, PodDisruptionBudget and read-only RBAC, all named and selecting alike', () => {
  assert.deepEqual(objects.map((o) => o.kind).sort(), ['ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'Deployment', 'PodDisruptionBudget', 'Service', 'ServiceAccount']);
  for (const o of objects) assert.ok(typeof o.apiVersion === 'string' && !o.apiVersion.includes('beta'), `${o.kind} uses a GA apiVersion`);
  assert.equal(deployment.spec.replicas, 2, 'two replicas, stateless and equivalent');
  const labels = deployment.spec.template.metadata.labels as Obj;
  for (const selector of [deployment.spec.selector.matchLabels, byKind('PodDisruptionBudget').spec.selector.matchLabels, byKind('Service').spec.selector]) {
    for (const [k, v] of Object.entries(selector as Obj)) assert.equal(labels[k], v, 'selects the control-plane pods');
  }
  assert.equal(byKind('PodDisruptionBudget').spec.minAvailable, 1, 'a drain leaves one replica');
  // RBAC: list/watch what the k8s namer reads, nothing else, bound to the pods' ServiceAccount.
  const rules = (byKind('ClusterRole').rules as Obj[]).map((r) => `${r.apiGroups.join()}/${r.resources.join()}:${[...r.verbs].sort().join()}`).sort();
  assert.deepEqual(rules, ['/services:get,list,watch', 'discovery.k8s.io/endpointslices:get,list,watch']);
  const binding = byKind('ClusterRoleBinding');
  assert.equal(binding.roleRef.name, byKind('ClusterRole').metadata.name);
  assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: pod.serviceAccountName, namespace: deployment.metadata.namespace }]);
  assert.equal(byKind('ServiceAccount').metadata.name, pod.serviceAccountName);
});

test('control-plane.yaml: the container runs `control` on the ConfigMap, whose config and xds key pass validation; the Service reaches the xds port that bootstraps name', () => {
  const args = container.args as string[];
  assert.equal(args[args.indexOf('dist/src/cli.js') + 1], 'control');
  const file = args[args.indexOf('--config') + 1]!;
  const mount = (container.volumeMounts as Obj[]).find((m) => file === `${m.mountPath}/config.yaml`);
  assert.ok(mount, '--config is config.yaml in the ConfigMap mount');
  assert.equal(mount.subPath, undefined, 'a directory mount: the live dtab updates');
  const rc = control.router;
  assert.equal(rc.interpreter.kind === 'io.l5d.fs' && rc.interpreter.dtabFile, `${mount.mountPath}/dtab`, 'the live dtab is the ConfigMap key');
  const xdsPort = (container.ports as Obj[]).find((p) => p.name === 'xds')!;
  assert.equal(xdsPort.containerPort, control.port);
  assert.equal(control.ip, '0.0.0.0');
  const service = byKind('Service');
  const servicePort = (service.spec.ports as Obj[])[0]!;
  assert.equal(servicePort.targetPort, 'xds');
  assert.equal(DEFAULT_XDS_SERVER, `${service.metadata.name}.${service.metadata.namespace}.svc.cluster.local:${servicePort.port}`, 'the default bootstrap names this Service');
  assert.ok(pod.terminationGracePeriodSeconds > config.shutdownDelayMs / 1000, 'the shutdown delay ends before SIGKILL');
  // The admin server (dashboard, subscribers) on loopback only; the kubelet's probes on the probes listener.
  const { admin } = config;
  assert.equal(admin.ip, '127.0.0.1');
  assert.ok(!(container.ports as Obj[]).some((p) => p.containerPort === admin.port), 'no container port for the loopback-only admin server');
  assert.deepEqual(admin.probes, { ip: '0.0.0.0', port: 9991, metrics: false });
  assert.equal((container.ports as Obj[]).find((p) => p.name === 'probes')?.containerPort, admin.probes.port);
  for (const probe of [container.readinessProbe, container.livenessProbe]) assert.equal(probe.httpGet.port, 'probes');
  // The shipped dtab sends the example service to the echo-server Service's grpc port.
  const dtab = parseDtab(configMap.data.dtab, { source: 'dtab' }).concat(parseDtab(rc.dtab));
  const first = dtab.lookup(parsePath(`${rc.dstPrefix}/com.example.grpc.EchoService`));
  assert.equal(first.kind === 'leaf' && first.value.kind === 'path' && first.value.path.show(), '/k8s/default/grpc/echo-server');
  const second = dtab.lookup(parsePath('/k8s/default/grpc/echo-server'));
  assert.equal(second.kind === 'leaf' && second.value.kind === 'path' && second.value.path.show(), '/#/io.l5d.k8s/default/grpc/echo-server');
});
