import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { echoClient } from '../../examples/echo/client.js';
import { startEchoServer, type EchoServer } from '../../examples/echo/server.js';
import { KubeApiServer } from '../fixtures/k8s/api-server.js';
import { startK8sControlPlane } from '../fixtures/xds/k8s-control-plane.js';
import { freePort, get, ROOT, runCli, runNode, startCli, type Started } from '../e2e/process.js';
import { selfSignedCert } from '../fixtures/k8s/tls.js';
import { eventually } from '../support/eventually.js';

/**
 * `@kubernetes/client-node` costs a router process ~70 MB of RSS (it loads every generated API
 * model), so only a Kubernetes namer may load it. Each case runs the built CLI with a loader hook
 * (test/fixtures/module-trace) that writes down every module the process resolves, then reads the list.
 */
const REGISTER = new URL('../fixtures/module-trace/register.js', import.meta.url).href;
const SERVICE = 'com.example.grpc.EchoService';

interface Resolution {
  url: string;
  specifier: string;
  parent: string;
}

/** Environment that makes a CLI process record its module resolutions into a file in `dir`. */
function traced(dir: string, name: string): { env: NodeJS.ProcessEnv; read(): Resolution[]; builtins(proc: Started): Promise<string[]> } {
  const file = join(dir, `${name}.trace`);
  writeFileSync(file, '');
  return {
    // Node's own modules the process has loaded so far, also through require (SIGUSR2: register.ts).
    builtins: async (proc) => {
      proc.child.kill('SIGUSR2');
      return eventually(`${file}.builtins written`, () => existsSync(`${file}.builtins`) && readFileSync(`${file}.builtins`, 'utf8').split('\n').filter(Boolean));
    },
    env: { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${REGISTER}`.trim(), KGR_MODULE_TRACE: file },
    read: () =>
      readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => {
          const [url = '', specifier = '', parent = ''] = line.split(' ');
          return { url, specifier, parent };
        }),
  };
}

const isClientNode = (r: Resolution) => r.specifier.startsWith('@kubernetes/client-node') || r.url.includes('/node_modules/@kubernetes/client-node/');
const isK8sNamer = (r: Resolution) => /\/dist\/src\/namers\/k8s\/(connection|create)\.js$/.test(r.url);

const isGrpcJs = (r: Resolution) => /^@grpc\/(grpc-js|proto-loader)/.test(r.specifier) || /\/node_modules\/@grpc\//.test(r.url);

type Unwanted = readonly (readonly [label: string, matches: (r: Resolution) => boolean])[];
const CLIENT_NODE: Unwanted = [['@kubernetes/client-node', isClientNode]];
const CLIENT_NODE_OR_K8S_NAMER: Unwanted = [...CLIENT_NODE, ["the k8s namer's connection", isK8sNamer]];

/** The trace saw the modules `expected` (so it is working) and nothing `unwanted`. */
function assertNotLoaded(trace: Resolution[], what: string, expected: string[], unwanted: Unwanted): void {
  for (const module of expected) assert.ok(trace.some((r) => r.url.endsWith(`/dist/src/${module}`)), `${what}: trace shows ${module} loaded`);
  for (const [label, matches] of unwanted) {
    const loaded = trace.filter(matches);
    assert.equal(loaded.length, 0, `${what} must not load ${label}; it loaded ${loaded.length} modules, the first ${loaded[0]?.url} from ${loaded[0]?.parent}`);
  }
}

async function echoThrough(port: number): Promise<string> {
  const client = echoClient(`127.0.0.1:${port}`);
  try {
    return (await client.echo('hello', { deadlineMs: 5000 })).from;
  } finally {
    client.close();
  }
}

test('config loading and validation, --print-config, -p parsing and the dtab commands never load @kubernetes/client-node', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kgr-lazy-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'dtab'), '/svc => /#/io.l5d.k8s/default/grpc;\n');
  writeFileSync(join(dir, 'bad.yaml'), 'namers:\n- kind: io.l5d.k8s\n  port: nope\nrouters: []\n');
  const runs: [string, string[], number, string[]][] = [
    // The seed config names an io.l5d.k8s namer: validating and printing it must not load the client.
    ['--print-config of a k8s config', ['--config', join(ROOT, 'test/fixtures/config/linkerd-grpc-seed.yaml'), '--print-config'], 0, ['config/load.js']],
    ['an invalid k8s config', ['--config', join(dir, 'bad.yaml')], 1, ['config/load.js']],
    ['-p with a kubernetes:/// target, --print-config', ['-p', ':5000-kubernetes:///echo.team-a:grpc', '--print-config'], 0, ['config/proxy-config.js', 'namers/target.js']],
    ['dtab check', ['dtab', 'check', join(dir, 'dtab')], 0, ['dtab/commands.js']],
    ['dtab delegate', ['dtab', 'delegate', '--dtab', '/svc => /$/inet/127.0.0.1/9', '/svc/x'], 0, ['dtab/commands.js']],
  ];
  for (const [what, args, code, modules] of runs) {
    const trace = traced(dir, what.replace(/\W+/g, '-'));
    const run = await runCli(args, { env: trace.env });
    assert.equal(run.code, code, `${what}: ${run.stderr}`);
    assertNotLoaded(trace.read(), what, modules, CLIENT_NODE_OR_K8S_NAMER);
  }
});

test('a router on fs, dns and /$/inet names, and its admin, run and route without loading @kubernetes/client-node or grpc-js', async (t) => {
  const echo = await startEchoServer({ name: 'fs-echo' });
  const dir = mkdtempSync(join(tmpdir(), 'kgr-lazy-'));
  const procs: Started[] = [];
  t.after(async () => {
    for (const p of procs) await p.kill();
    await echo.close();
    rmSync(dir, { recursive: true, force: true });
  });
  mkdirSync(join(dir, 'endpoints'));
  writeFileSync(join(dir, 'endpoints', SERVICE), `127.0.0.1 ${echo.port}\n`);
  const [routerPort, adminPort, proxyPort, proxyAdminPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  writeFileSync(
    join(dir, 'config.yaml'),
    `admin: {ip: 127.0.0.1, port: ${adminPort}}
namers:
- kind: io.l5d.fs
  rootDir: endpoints
- kind: io.l5d.dns
routers:
- protocol: h2
  identifier: {kind: io.l5d.header.path, segments: 1}
  dtab: |
    /svc => /#/io.l5d.fs;
    /svc/other => /#/io.l5d.dns/localhost/${echo.port};
    /svc/static => /$/inet/127.0.0.1/${echo.port};
  servers:
  - {ip: 127.0.0.1, port: ${routerPort}}
`,
  );

  const config = traced(dir, 'config');
  procs.push(startCli(['--config', join(dir, 'config.yaml')], config.env));
  await procs[0]!.waitFor(/kube-grpc-router started/);
  assert.equal(await echoThrough(routerPort), 'fs-echo');
  // Every admin page the dashboard uses, in case one of them loads something on demand.
  for (const path of ['/', '/ready', '/metrics', '/admin/dashboard.json', '/client_state.json', '/bound-names.json', '/config.json', '/namer_state/io.l5d.fs.json']) {
    const page = await get(`http://127.0.0.1:${adminPort}${path}`);
    assert.ok(page.status < 500, `${path}: ${page.status} ${page.body}`);
  }
  const delegator = await get(`http://127.0.0.1:${adminPort}/delegator.json?path=/svc/${SERVICE}`);
  assert.equal(delegator.status, 200, delegator.body);
  assertNotLoaded(config.read(), 'a router with fs and dns namers', ['main.js', 'namers/fs.js', 'namers/dns.js', 'admin/server.js', 'router/router.js'], CLIENT_NODE_OR_K8S_NAMER);
  // Nor grpc-js and the protos (4-7 MB of RSS under load), which only grpclb and xDS need: the data plane is our own.
  const grpc = config.read().filter(isGrpcJs);
  assert.equal(grpc.length, 0, `a router without grpclb or xDS loaded ${grpc.length} @grpc modules, the first ${grpc[0]?.url} from ${grpc[0]?.parent}`);
  // Nor node:tls and node:crypto (~4 MB of RSS on Node 24) without a TLS listener or endpoint, nor
  // the undici that an ESM import of node:http loads on Node 24 (~11 MB).
  const builtins = await config.builtins(procs[0]!);
  assert.ok(builtins.includes('net') && builtins.includes('http'), `the list is of what was loaded: ${builtins.join(' ')}`);
  for (const unwanted of ['tls', 'crypto', 'https', 'http2', 'internal/deps/undici/undici']) assert.ok(!builtins.includes(unwanted), `a router without TLS loaded node:${unwanted}`);

  // gproxy mode with a host:port target.
  const proxy = traced(dir, 'proxy');
  procs.push(startCli(['-p', `127.0.0.1:${proxyPort}-127.0.0.1:${echo.port}`, '--admin', `127.0.0.1:${proxyAdminPort}`], proxy.env));
  await procs[1]!.waitFor(/kube-grpc-router started/);
  assert.equal(await echoThrough(proxyPort), 'fs-echo');
  assertNotLoaded(proxy.read(), '-p host:port', ['main.js', 'router/router.js'], CLIENT_NODE_OR_K8S_NAMER);
});

test('a k8s namer in a pod (service account) or on host/port routes without @kubernetes/client-node; only a kubeconfig loads it', async (t) => {
  const cert = selfSignedCert();
  // One API server over TLS with a bearer token (in a pod), one on plain HTTP (host/port, kubeconfig).
  const [secure, plain] = [cert ? await KubeApiServer.start({ token: 'sa-token', tls: cert }) : undefined, await KubeApiServer.start()];
  const echo = await startEchoServer({ name: 'k8s-echo' });
  const dir = mkdtempSync(join(tmpdir(), 'kgr-lazy-'));
  const procs: Started[] = [];
  t.after(async () => {
    for (const p of procs) await p.kill();
    await echo.close();
    await secure?.close();
    await plain.close();
    rmSync(dir, { recursive: true, force: true });
  });
  for (const api of [secure, plain]) {
    api?.applyService('default', 'echo', [{ name: 'grpc', port: 80, targetPort: 'grpc' }]);
    api?.applySlice('default', 'echo-1', 'echo', [{ ip: '127.0.0.1' }], [{ name: 'grpc', port: echo.port }]);
  }

  // In a pod, the DaemonSet's way: the service account's token and CA over TLS. The CLI's service
  // account directory is fixed, so a process of its own names the Service through the same connection.
  if (secure && cert) {
    const sa = join(dir, 'serviceaccount');
    mkdirSync(sa);
    writeFileSync(join(sa, 'token'), 'sa-token');
    writeFileSync(join(sa, 'ca.crt'), cert.cert);
    writeFileSync(join(sa, 'namespace'), 'default');
    const trace = traced(dir, 'in-cluster');
    const run = await runNode([join(ROOT, 'dist/test/fixtures/k8s/in-cluster-lookup.js'), sa, 'default/grpc/echo'], {
      env: { ...trace.env, KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(secure.port) },
    });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), { source: 'in-cluster', endpoints: [`127.0.0.1:${echo.port}`] });
    assertNotLoaded(trace.read(), 'an in-cluster connection', ['namers/k8s/connection.js', 'namers/k8s/service-account.js'], CLIENT_NODE);
  } else t.diagnostic('openssl not installed: the in-cluster case (TLS) is not run');

  // Linkerd's host/port (a kubectl proxy), through the CLI.
  const [routerPort, adminPort, proxyPort, proxyAdminPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  writeFileSync(
    join(dir, 'config.yaml'),
    `admin: {ip: 127.0.0.1, port: ${adminPort}}
namers:
- kind: io.l5d.k8s
  host: 127.0.0.1
  port: ${plain.port}
routers:
- protocol: h2
  dtab: /svc => /#/io.l5d.k8s/default/grpc/echo;
  servers:
  - {ip: 127.0.0.1, port: ${routerPort}}
`,
  );
  // -p kubernetes:/// finds the API through KUBECONFIG (client-node wants skip-verify for plain http).
  writeFileSync(join(dir, 'kubeconfig'), plain.kubeconfig({ skipTlsVerify: true }));
  const launches: [string, string[], NodeJS.ProcessEnv, number, number][] = [
    ['--config with io.l5d.k8s on host/port', ['--config', join(dir, 'config.yaml')], {}, routerPort, adminPort],
    ['-p kubernetes:/// with a kubeconfig', ['-p', `127.0.0.1:${proxyPort}-kubernetes:///echo.default:80`, '--admin', `127.0.0.1:${proxyAdminPort}`], { KUBECONFIG: join(dir, 'kubeconfig') }, proxyPort, proxyAdminPort],
  ];
  for (const [what, args, env, port, admin] of launches) {
    const trace = traced(dir, what.replace(/\W+/g, '-'));
    const proc = startCli(args, { ...env, ...trace.env, KUBERNETES_SERVICE_HOST: '' });
    procs.push(proc);
    await proc.waitFor(/kube-grpc-router started/);
    await eventually('/ready answering 200', async () => (await get(`http://127.0.0.1:${admin}/ready`)).status === 200);
    assert.equal(await echoThrough(port), 'k8s-echo', what);
    if (env.KUBECONFIG === undefined) {
      assertNotLoaded(trace.read(), what, ['namers/k8s/connection.js', 'namers/k8s/proxy-access.js'], CLIENT_NODE);
      // Nor the undici that an ESM import of node:http loads on Node 24 (~4 MB here).
      const builtins = await trace.builtins(proc);
      assert.ok(builtins.includes('http'), `the list is of what was loaded: ${builtins.join(' ')}`);
      assert.ok(!builtins.includes('internal/deps/undici/undici'), `${what} loaded undici`);
    } else {
      const loaded = trace.read().filter(isClientNode);
      assert.ok(loaded.some((r) => r.specifier === '@kubernetes/client-node' && r.parent.endsWith('/dist/src/namers/k8s/kubeconfig-access.js')), `${what}: client-node loaded for the kubeconfig`);
    }
  }
});

test('a router subscribing to the control plane (io.l5d.xds) never loads @kubernetes/client-node; /ready says what it awaits until the control plane answers', async (t) => {
  const api = await KubeApiServer.start();
  const echo = await startEchoServer({ name: 'xds-echo' });
  const dir = mkdtempSync(join(tmpdir(), 'kgr-lazy-'));
  let proc: Started | undefined;
  let control: Awaited<ReturnType<typeof startK8sControlPlane>> | undefined;
  t.after(async () => {
    await proc?.kill();
    await control?.plane.close();
    await echo.close();
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });
  api.applyService('default', 'echo', [{ name: 'grpc', port: 80, targetPort: 'grpc' }]);
  api.applySlice('default', 'echo-1', 'echo', [{ ip: '127.0.0.1' }], [{ name: 'grpc', port: echo.port }]);
  const [routerPort, adminPort, xdsPort] = [await freePort(), await freePort(), await freePort()];
  writeFileSync(
    join(dir, 'config.yaml'),
    `admin: {ip: 127.0.0.1, port: ${adminPort}}
namers:
- {kind: io.l5d.xds, prefix: /#/io.l5d.k8s, servers: ["127.0.0.1:${xdsPort}"], reconnectMinMs: 20, reconnectMaxMs: 200}
routers:
- protocol: h2
  dtab: /svc => /#/io.l5d.k8s/default/grpc/echo;
  servers:
  - {ip: 127.0.0.1, port: ${routerPort}}
`,
  );
  const trace = traced(dir, 'xds');
  // No Kubernetes anywhere in its environment: it needs none.
  proc = startCli(['--config', join(dir, 'config.yaml')], { ...trace.env, KUBERNETES_SERVICE_HOST: '', NODE_NAME: 'node-7' });
  await proc.waitFor(/kube-grpc-router started/);
  // The control plane is not there yet: not ready, naming the connection and the name awaited.
  await eventually('/ready naming the xDS connection and the name awaited', async () => {
    const ready = await get(`http://127.0.0.1:${adminPort}/ready`);
    assert.equal(ready.status, 503);
    assert.ok(ready.body.startsWith(`not ready:\n- namer /#/io.l5d.k8s not ready: xDS backing off 127.0.0.1:${xdsPort} (last error: 127.0.0.1:${xdsPort}: UNAVAILABLE: `), ready.body);
    assert.ok(ready.body.trimEnd().endsWith('); awaiting xds default/grpc/echo: waiting for the first answer'), ready.body);
    return true;
  });
  control = await startK8sControlPlane(api.port, xdsPort);
  await eventually('/ready once the control plane answers', async () => (await get(`http://127.0.0.1:${adminPort}/ready`)).status === 200);
  assert.equal(await echoThrough(routerPort), 'xds-echo');
  assert.equal(control.plane.xds.subscribers()[0]?.node, 'node-7');
  const state = await get(`http://127.0.0.1:${adminPort}/namer_state/io.l5d.k8s.json`);
  assert.equal(state.status, 200, state.body);
  assertNotLoaded(trace.read(), 'a router with io.l5d.xds', ['main.js', 'xds/subscriber/xds-namer.js', 'xds/protos.js', 'router/router.js'], CLIENT_NODE_OR_K8S_NAMER);
});

test('a malformed kubeconfig stops startup with an error naming the file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kgr-lazy-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, 'apiVersion: v1\nclusters: [\n  - {{{\n');
  const port = await freePort();
  const run = await runCli(['-p', `127.0.0.1:${port}-kubernetes:///echo.default:80`, '--admin', `127.0.0.1:${await freePort()}`], {
    env: { KUBECONFIG: kubeconfig, KUBERNETES_SERVICE_HOST: '' },
  });
  assert.equal(run.code, 1, run.stderr);
  assert.match(run.stderr, new RegExp(`^kube-grpc-router: kubeconfig ${kubeconfig.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: `));
  assert.doesNotMatch(run.stdout + run.stderr, /kube-grpc-router started/);
});
