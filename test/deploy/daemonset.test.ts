import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { parseConfig } from '../../src/config/load.js';
import { parseDtab, parsePath, type Path } from '../../src/dtab/index.js';
import { startAdmin } from '../../src/admin/server.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { Logger } from '../../src/util/log.js';
import { ROUTER_V8_FLAGS_DEFAULT } from '../../bench/harness.js';

// Read from the source tree (dist/test/deploy → repo root).
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Node's flags in `args` before `script` (and after the `node` binary, when it is there). */
function nodeFlagsBefore(args: readonly string[], script: string): string[] {
  const end = args.indexOf(script);
  assert.ok(end >= 0, `${script} in ${args.join(' ')}`);
  return args.slice(0, end).filter((a) => a.startsWith('--'));
}

/**
 * The node flags the product runs with, as `npm start` gives them; the image, the DaemonSet and the
 * bench (bench/harness.ts) must give the same ones.
 */
const PRODUCT_NODE_FLAGS = nodeFlagsBefore(
  (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start.split('&&').pop()!.trim().split(/\s+/),
  'dist/src/cli.js',
);

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function manifest(): Obj[] {
  const docs = parseAllDocuments(readFileSync(join(ROOT, 'daemonset.yaml'), 'utf8'));
  const objects: Obj[] = [];
  for (const doc of docs as ReturnType<typeof parseAllDocuments> & unknown[]) {
    const d = doc as { errors: unknown[]; toJS(): unknown };
    assert.deepEqual(d.errors, [], 'daemonset.yaml is valid YAML');
    const js = d.toJS() as Obj | null;
    if (js) objects.push(js);
  }
  return objects;
}

function one(objects: Obj[], kind: string, name: string): Obj {
  const found = objects.filter((o) => o.kind === kind && o.metadata?.name === name);
  assert.equal(found.length, 1, `exactly one ${kind}/${name}`);
  return found[0]!;
}

const objects = manifest();
const daemonSet = one(objects, 'DaemonSet', 'kube-grpc-router');
const configMap = one(objects, 'ConfigMap', 'kube-grpc-router');
const pod = daemonSet.spec.template.spec as Obj;
const router = (pod.containers as Obj[]).find((c) => c.name === 'router')!;
const loaded = parseConfig(configMap.data['config.yaml'], { source: 'daemonset.yaml#config.yaml' });

test('the manifest parses and every kind is present, each with apiVersion, kind and name', () => {
  const kinds = objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();
  assert.deepEqual(kinds, [
    'ClusterRole/kube-grpc-router',
    'ClusterRoleBinding/kube-grpc-router',
    'ConfigMap/kube-grpc-router',
    'DaemonSet/kube-grpc-router',
    'Deployment/echo-client',
    'Deployment/echo-server',
    'Service/echo-server',
    'ServiceAccount/kube-grpc-router',
  ]);
  for (const o of objects) assert.ok(typeof o.apiVersion === 'string' && !o.apiVersion.includes('beta'), `${o.kind} uses a GA apiVersion`);
  // Selectors match their pod templates (apps/v1 requires it).
  for (const w of objects.filter((o) => o.kind === 'DaemonSet' || o.kind === 'Deployment')) {
    for (const [k, v] of Object.entries(w.spec.selector.matchLabels)) assert.equal(w.spec.template.metadata.labels[k], v, `${w.metadata.name} selector`);
  }
});

test("the ConfigMap's config passes the router's own validation and its dtab key is the live file", () => {
  const { config } = loaded;
  assert.equal(config.routers.length, 1);
  const rc = config.routers[0]!;
  assert.equal(rc.interpreter.kind, 'io.l5d.fs');
  const dtabFile = rc.interpreter.kind === 'io.l5d.fs' ? rc.interpreter.dtabFile : '';
  // The dtab file is a key of this ConfigMap, in a directory mount (subPath mounts never update).
  const mount = (router.volumeMounts as Obj[]).find((m) => dtabFile.startsWith(m.mountPath + '/'));
  assert.ok(mount, `${dtabFile} is inside a volume mount`);
  assert.equal(mount.subPath, undefined, 'no subPath: only directory mounts get live ConfigMap updates');
  const volume = (pod.volumes as Obj[]).find((v) => v.name === mount.name)!;
  assert.equal(volume.configMap.name, 'kube-grpc-router');
  const key = dtabFile.slice(mount.mountPath.length + 1);
  assert.equal(volume.configMap.items, undefined);
  assert.ok(typeof configMap.data[key] === 'string', `ConfigMap has the key "${key}"`);
  // The container's --config points at the config.yaml key in the same mount.
  const args = router.args as string[];
  assert.equal(args[args.indexOf('--config') + 1], `${mount.mountPath}/config.yaml`);
  // node runs the router with the flags the benchmark measured (bench/README.md, "V8 flags").
  assert.deepEqual(nodeFlagsBefore(args, 'dist/src/cli.js'), PRODUCT_NODE_FLAGS, `the DaemonSet's node flags: ${args.join(' ')}`);

  // The live dtab ++ the router dtab send the echo service to the echo-server Service's `grpc` port.
  const effective = parseDtab(configMap.data[key], { source: 'dtab' }).concat(parseDtab(rc.dtab));
  let path: Path = parsePath('/svc/com.example.grpc.EchoService');
  for (let i = 0; i < 10 && !path.show().startsWith('/#/'); i++) {
    const tree = effective.lookup(path);
    assert.equal(tree.kind, 'leaf', `${path.show()} rewrites to one path`);
    path = (tree as { value: { path: Path } }).value.path;
  }
  assert.equal(path.show(), '/#/io.l5d.k8s/default/grpc/echo-server');
  assert.ok(config.namers.some((n) => n.prefix === '/#/io.l5d.k8s' && (n as { host?: string }).host === undefined), 'the k8s namer uses the in-cluster service account');
  const service = one(objects, 'Service', 'echo-server');
  assert.equal(service.spec.clusterIP, 'None', 'headless');
  assert.ok((service.spec.ports as Obj[]).some((p) => p.name === 'grpc'));
});

test('the DaemonSet: hostPort 4140, admin on 127.0.0.1:9990, probes on the pod IP, Downward API env, resources, security', () => {
  const rc = loaded.config.routers[0]!;
  const ports = router.ports as Obj[];
  const outgoing = ports.find((p) => p.hostPort === 4140)!;
  assert.ok(outgoing, 'hostPort 4140');
  assert.ok(rc.servers.some((s) => s.port === outgoing.containerPort && s.ip === '0.0.0.0'), 'a router server listens on the hostPort on all interfaces');
  // The admin server (dashboard, delegator, config) on loopback only: pods cannot reach it, kubectl port-forward can.
  const { admin } = loaded.config;
  assert.deepEqual(admin, { ip: '127.0.0.1', port: 9990, probes: { ip: '0.0.0.0', port: 9991, metrics: false }, controlEnabled: false, maxConnections: 1000, maxConnectionsPerClient: 16 });
  assert.ok(!ports.some((p) => p.containerPort === admin.port), 'no container port for the loopback-only admin server');
  // The probes listener on the pod IP, where the kubelet's probes go.
  const probes = ports.find((p) => p.name === 'probes')!;
  assert.equal(probes.containerPort, admin.probes!.port);
  const env = Object.fromEntries((router.env as Obj[]).map((e) => [e.name, e.valueFrom?.fieldRef?.fieldPath]));
  assert.deepEqual(env, { NODE_NAME: 'spec.nodeName', POD_IP: 'status.podIP', POD_NAMESPACE: 'metadata.namespace' });
  assert.equal(router.readinessProbe.httpGet.path, '/ready');
  assert.equal(router.livenessProbe.httpGet.path, '/live');
  for (const probe of [router.readinessProbe, router.livenessProbe]) assert.equal(probe.httpGet.port, 'probes');
  for (const kind of ['requests', 'limits']) for (const r of ['cpu', 'memory']) assert.ok(router.resources[kind][r], `resources.${kind}.${r}`);
  const { shutdownDelayMs, shutdownGraceMs } = loaded.config;
  assert.ok(pod.terminationGracePeriodSeconds * 1000 > shutdownDelayMs + shutdownGraceMs, 'Kubernetes waits longer than delay + grace');
  assert.equal(pod.securityContext.runAsNonRoot, true);
  assert.ok(pod.securityContext.runAsUser > 0);
  assert.equal(router.securityContext.readOnlyRootFilesystem, true);
  assert.equal(router.securityContext.allowPrivilegeEscalation, false);
  assert.deepEqual(router.securityContext.capabilities.drop, ['ALL']);
  assert.equal(pod.hostNetwork, undefined, 'a hostPort, not the host network');
});

test('the example app: echo-server on port grpc, echo-client dialling its node on 4140', () => {
  const server = one(objects, 'Deployment', 'echo-server').spec.template.spec.containers[0] as Obj;
  assert.ok((server.ports as Obj[]).some((p) => p.name === 'grpc' && p.containerPort === 8080));
  const client = one(objects, 'Deployment', 'echo-client').spec.template.spec.containers[0] as Obj;
  assert.ok((client.args as string[]).includes('$(NODE_IP):4140'));
  assert.deepEqual(client.env, [{ name: 'NODE_IP', valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } }]);
  // The images run this project's own example programs.
  for (const c of [server, client, router]) {
    assert.equal(c.image, router.image, `${c.name} uses this project's image`);
    const script = (c.args as string[]).find((a) => !a.startsWith('--'))!;
    const source = join(ROOT, script.replace(/^dist\//, '').replace(/\.js$/, '.ts'));
    assert.ok(existsSync(source), `${script} is built from ${source}`);
  }
});

/** Every Kubernetes API path the namers request, with the verbs their code uses on it. */
function namerApiCalls(): { group: string; resource: string; verbs: string[]; file: string }[] {
  const calls: { group: string; resource: string; verbs: string[]; file: string }[] = [];
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? walk(join(dir, f)) : f.endsWith('.ts') ? [join(dir, f)] : []));
  for (const file of walk(join(ROOT, 'src/namers'))) {
    const text = readFileSync(file, 'utf8');
    const watches = /\bwatch\b/.test(text);
    for (const m of text.matchAll(/`(\/apis?\/[^`]*)`/g)) {
      const parts = m[1]!.split('/').filter(Boolean);
      const [prefix, ...rest] = parts;
      const group = prefix === 'api' ? '' : rest.shift()!;
      rest.shift(); // version
      if (rest[0] === 'watch') rest.shift();
      if (rest[0] === 'namespaces' && rest.length > 2) rest.splice(0, 2);
      const [resource, name] = rest;
      if (!resource || resource.startsWith('$')) continue;
      const verbs = name ? ['get'] : ['list'];
      if (watches) verbs.push('watch');
      calls.push({ group, resource, verbs, file });
    }
  }
  return calls;
}

test('the ClusterRole covers every API call the namers make, bound to the DaemonSet service account', () => {
  const calls = namerApiCalls();
  assert.ok(calls.length >= 2, `found the namers' API calls (${calls.length})`);
  const role = one(objects, 'ClusterRole', 'kube-grpc-router');
  for (const call of calls) {
    for (const verb of call.verbs) {
      const allowed = (role.rules as Obj[]).some(
        (r) => r.apiGroups.includes(call.group) && r.resources.includes(call.resource) && r.verbs.includes(verb),
      );
      assert.ok(allowed, `${verb} ${call.group || 'core'}/${call.resource} (${call.file}) is allowed`);
    }
  }
  // Read-only: nothing the namers do writes.
  for (const rule of role.rules as Obj[]) for (const verb of rule.verbs) assert.ok(['get', 'list', 'watch'].includes(verb), `verb ${verb}`);
  const binding = one(objects, 'ClusterRoleBinding', 'kube-grpc-router');
  assert.deepEqual(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'kube-grpc-router' });
  const account = one(objects, 'ServiceAccount', pod.serviceAccountName);
  assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: account.metadata.name, namespace: account.metadata.namespace }]);
});

test("the probes point at real paths of the probes listener, which serves nothing else; the dashboard is the admin server's", async () => {
  // The ConfigMap's admin config, on ephemeral ports; 127.0.0.2 stands for the pod IP.
  const { probes } = loaded.config.admin;
  assert.ok(probes, 'the ConfigMap sets admin.probes');
  const config = { ...loaded.config.admin, port: 0, probes: { ...probes, ip: '127.0.0.2', port: 0 } };
  const admin = await startAdmin(config, {
    routers: [],
    namers: [],
    metrics: new Metrics({ processMetrics: false }),
    log: Logger.silent(),
    effectiveConfig: loaded.config,
    readiness: () => ({ ready: true, reasons: [] }),
    version: 'test',
  });
  const status = async (url: string) => {
    const res = await fetch(url);
    await res.arrayBuffer();
    return res.status;
  };
  try {
    const podIp = `http://127.0.0.2:${admin.probesPort}`;
    for (const probe of [router.readinessProbe, router.livenessProbe]) assert.equal(await status(podIp + probe.httpGet.path), 200, `${probe.httpGet.path} answers 200`);
    for (const path of ['/', '/delegator.json', '/config.json', '/metrics', '/no-such-probe']) assert.equal(await status(podIp + path), 404, `${path} is not served on the pod IP`);
    const loopback = `http://127.0.0.1:${admin.port}`;
    for (const path of ['/', '/config.json', '/metrics']) assert.equal(await status(loopback + path), 200, `${path} is served on the admin server`);
  } finally {
    await admin.close();
  }
});

test('the Dockerfile builds in one stage and runs production deps only, as non-root', () => {
  const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const froms = text.match(/^FROM .*/gm) ?? [];
  assert.ok(froms.length >= 2, 'multi-stage');
  assert.match(text, /npm ci/);
  assert.match(text, /npm prune --omit=dev/);
  const user = /^USER (\S+)/m.exec(text.slice(text.lastIndexOf('FROM ')));
  assert.ok(user && !/^(0|root)(:|$)/.test(user[1]!), 'the runtime stage sets a non-root USER');
  // What the runtime reads from the source tree at run time is copied in.
  for (const path of ['examples/echo/echo.proto', 'examples/local.yaml']) {
    assert.ok(text.includes(path), `${path} is copied`);
    assert.ok(existsSync(join(ROOT, path)));
  }
  // The router runs with the flags the benchmark measured it with.
  const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(text)![1]!) as string[];
  assert.deepEqual(nodeFlagsBefore(cmd, 'dist/src/cli.js'), PRODUCT_NODE_FLAGS, `the image's node flags: ${cmd.join(' ')}`);
  const ignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n');
  assert.ok(ignore.includes('node_modules') && ignore.includes('dist'), 'local builds never leak into the image');
});

test('the bench measures the router with the node flags the product runs with', () => {
  assert.ok(PRODUCT_NODE_FLAGS.includes('--max-semi-space-size=2'), `npm start's node flags: ${PRODUCT_NODE_FLAGS.join(' ')}`);
  assert.deepEqual(ROUTER_V8_FLAGS_DEFAULT.split(' '), PRODUCT_NODE_FLAGS);
});
