import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTarget } from '../../src/namers/target.js';

const ns = { defaultNamespace: 'mine' };

// kuberesolver's README forms and its TestParseTargets / TestParseResolverTarget cases, translated.
const table: Array<[string, string, 'k8s' | 'dns' | 'static']> = [
  ['kubernetes:///service-name:8080', '/#/io.l5d.k8s/mine/8080/service-name', 'k8s'],
  ['kubernetes:///service-name:portname', '/#/io.l5d.k8s/mine/portname/service-name', 'k8s'],
  ['kubernetes:///service-name.namespace:8080', '/#/io.l5d.k8s/namespace/8080/service-name', 'k8s'],
  ['kubernetes:///service-name.namespace.svc.cluster_name', '/#/io.l5d.k8s/namespace/_/service-name', 'k8s'],
  ['kubernetes:///service-name.namespace.svc.cluster_name:8080', '/#/io.l5d.k8s/namespace/8080/service-name', 'k8s'],
  ['kubernetes://namespace/service-name:8080', '/#/io.l5d.k8s/namespace/8080/service-name', 'k8s'],
  ['kubernetes://service-name:8080/', '/#/io.l5d.k8s/mine/8080/service-name', 'k8s'],
  ['kubernetes://service-name.namespace:8080/', '/#/io.l5d.k8s/namespace/8080/service-name', 'k8s'],
  ['kubernetes://service-name.namespace.svc.cluster_name', '/#/io.l5d.k8s/namespace/_/service-name', 'k8s'],
  ['kubernetes://service-name.namespace.svc.cluster_name:8080', '/#/io.l5d.k8s/namespace/8080/service-name', 'k8s'],
  ['kubernetes://a:30', '/#/io.l5d.k8s/mine/30/a', 'k8s'],
  ['kubernetes://a/', '/#/io.l5d.k8s/mine/_/a', 'k8s'],
  ['kubernetes://a', '/#/io.l5d.k8s/mine/_/a', 'k8s'],
  ['kubernetes:///a', '/#/io.l5d.k8s/mine/_/a', 'k8s'],
  ['kubernetes://a/b', '/#/io.l5d.k8s/a/_/b', 'k8s'],
  ['kubernetes://a.b/', '/#/io.l5d.k8s/b/_/a', 'k8s'],
  ['kubernetes:///a.b:80', '/#/io.l5d.k8s/b/80/a', 'k8s'],
  ['kubernetes:///a.b:port', '/#/io.l5d.k8s/b/port/a', 'k8s'],
  ['kubernetes:///a:port', '/#/io.l5d.k8s/mine/port/a', 'k8s'],
  ['kubernetes://x/a:port', '/#/io.l5d.k8s/x/port/a', 'k8s'],
  ['kubernetes://a.x:30/', '/#/io.l5d.k8s/x/30/a', 'k8s'],
  ['kubernetes://a.b.svc.cluster.local', '/#/io.l5d.k8s/b/_/a', 'k8s'],
  ['kubernetes://a.b.svc.cluster.local:80', '/#/io.l5d.k8s/b/80/a', 'k8s'],
  ['kubernetes:///a.b.svc.cluster.local', '/#/io.l5d.k8s/b/_/a', 'k8s'],
  ['kubernetes:///a.b.svc.cluster.local:80', '/#/io.l5d.k8s/b/80/a', 'k8s'],
  ['kubernetes:///a.b.svc.cluster.local:port', '/#/io.l5d.k8s/b/port/a', 'k8s'],
  // kuberesolver quirks kept: the authority namespace wins; a path after host:port is ignored.
  ['kubernetes://ns1/svc.ns2:80', '/#/io.l5d.k8s/ns1/80/svc', 'k8s'],
  ['kubernetes://svc:80/other', '/#/io.l5d.k8s/mine/80/svc', 'k8s'],
  ['kubernetes:///Echo-Server.Prod:GRPC', '/#/io.l5d.k8s/prod/grpc/echo-server', 'k8s'],
  ['dns:///echo.example.com:50051', '/#/io.l5d.dns/echo.example.com/50051', 'dns'],
  ['dns://8.8.8.8/echo.example.com:50051', '/#/io.l5d.dns/echo.example.com/50051', 'dns'],
  ['dns:///echo.example.com', '/#/io.l5d.dns/echo.example.com/443', 'dns'],
  ['dns:///[::1]:9000', '/#/io.l5d.dns/::1/9000', 'dns'],
  ['echo-server:8080', '/$/inet/echo-server/8080', 'static'],
  ['127.0.0.1:50051', '/$/inet/127.0.0.1/50051', 'static'],
  ['[::1]:50051', '/$/inet/::1/50051', 'static'],
  ['passthrough:///10.0.0.1:80', '/$/inet/10.0.0.1/80', 'static'],
];

for (const [target, path, kind] of table) {
  test(`parseTarget ${target}`, () => {
    assert.deepEqual(parseTarget(target, ns), { path, kind });
  });
}

test('the default namespace is "default" outside a pod when none is given', () => {
  const { path } = parseTarget('kubernetes:///svc:80');
  assert.match(path, /^\/#\/io.l5d.k8s\/[a-z0-9-]+\/80\/svc$/);
});

const bad: Array<[string, RegExp]> = [
  ['', /empty target/],
  ['kubernetes:///', /must specify a service/],
  ['kubernetes://', /must specify a service/],
  ['kubernetes:///svc:', /empty port/],
  ['kubernetes:///svc:99999', /out of range/],
  ['kubernetes:///svc:bad_name', /neither a port number nor a valid port name/],
  ['kubernetes:///sv%c:80', /not a valid Kubernetes service name/],
  ['echo-server', /missing port/],
  ['echo:http', /must be a number/],
  ['::1:80', /IPv6 address must be in brackets/],
  ['unix:///tmp/sock', /scheme "unix:" is not supported/],
  ['dns:///', /names no host/],
];
for (const [target, message] of bad) {
  test(`parseTarget rejects ${JSON.stringify(target)}`, () => {
    assert.throws(() => parseTarget(target, ns), (e: Error) => message.test(e.message) && e.message.includes(JSON.stringify(target).slice(1, -1).slice(0, 5)) || message.test(e.message));
  });
}
