import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ConfigError } from '../../src/config/errors.js';
import { parseConfig } from '../../src/config/load.js';
import { proxyModeConfig } from '../../src/config/proxy-config.js';
import { parseProxySpec } from '../../src/config/proxy-spec.js';
import { TestPki, type Issued } from '../fixtures/tls/pki.js';
import { ROOT, runCli } from '../e2e/process.js';

const skip = !TestPki.available() && 'openssl not installed';
let pki: TestPki;
let server: Issued;
let soon: Issued;
let other: Issued;

before(() => {
  if (skip) return;
  pki = new TestPki();
  server = pki.issue('server', { names: ['router.local'] });
  soon = pki.issue('soon', { names: ['router.local'], days: 5 });
  other = pki.issue('other', { names: ['other'] });
});
after(() => pki?.remove());

const router = (server: string, client = '') => `routers:\n- protocol: h2\n  servers:\n  - port: 4140\n${server}${client}`;

function errorsOf(text: string): string[] {
  try {
    parseConfig(text, { source: 'config.yaml', baseDir: pki.dir });
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message.split('\n');
  }
  assert.fail('config was accepted');
}

test('servers[].tls: Linkerd 1 keys, paths relative to the config file', { skip }, () => {
  const { config, warnings } = parseConfig(router('    tls:\n      certPath: server.crt\n      keyPath: server.key\n      caCertPath: ca.crt\n      requireClientAuth: true\n'), { baseDir: pki.dir });
  assert.deepEqual(config.routers[0]!.servers[0]!.tls, { certPath: join(pki.dir, 'server.crt'), keyPath: join(pki.dir, 'server.key'), caCertPath: join(pki.dir, 'ca.crt'), requireClientAuth: true });
  assert.deepEqual(warnings, []);
});

test('a missing, unreadable or mismatched TLS file is a config error with its key path, file and line', { skip }, () => {
  assert.deepEqual(errorsOf(router('    tls:\n      certPath: missing.crt\n      keyPath: /nowhere/k.key\n')), [
    `routers[0].servers[0].tls.certPath: cannot read ${join(pki.dir, 'missing.crt')}: no such file (config.yaml:6:17)`,
    'routers[0].servers[0].tls.keyPath: cannot read /nowhere/k.key: no such file (config.yaml:7:16)',
  ]);
  assert.deepEqual(errorsOf(router(`    tls: {certPath: ${pki.dir}, keyPath: server.key}\n`)), [`routers[0].servers[0].tls.certPath: cannot read ${pki.dir}: is a directory (config.yaml:5:21)`]);
  assert.deepEqual(errorsOf(router('    tls: {certPath: server.crt, keyPath: other.key}\n')), [
    `routers[0].servers[0].tls.keyPath: ${join(pki.dir, 'other.key')}: the private key does not match the certificate (config.yaml:5:42)`,
  ]);
  assert.deepEqual(errorsOf(router('    tls: {certPath: server.key, keyPath: server.key}\n')), [`routers[0].servers[0].tls.certPath: ${join(pki.dir, 'server.key')} holds no PEM certificate (config.yaml:5:21)`]);
  assert.match(errorsOf(router('    tls: {certPath: server.crt, keyPath: server.key, requireClientAuth: true}\n'))[0]!, /requireClientAuth: requireClientAuth needs caCertPath/);
  assert.match(errorsOf(router('    tls: {certPath: server.crt}\n'))[0]!, /tls\.keyPath: missing required key/);
  // Client side: trustCerts and clientAuth files too.
  assert.deepEqual(errorsOf(router('', '  client:\n    tls:\n      trustCerts: [ca.crt, gone.crt]\n')), [`routers[0].client.tls.trustCerts[1]: cannot read ${join(pki.dir, 'gone.crt')}: no such file (config.yaml:7:28)`]);
});

test('a certificate expiring within 14 days loads with a warning naming it', { skip }, () => {
  const { warnings } = parseConfig(router('    tls: {certPath: soon.crt, keyPath: soon.key}\n'), { source: 'config.yaml', baseDir: pki.dir });
  assert.equal(warnings!.length, 1);
  const w = warnings![0]!;
  assert.equal(w.path, 'routers[0].servers[0].tls.certPath');
  assert.deepEqual([w.file, w.line, w.column], ['config.yaml', 5, 21]);
  assert.match(w.message, /certificate CN=router\.local in .*soon\.crt expires in [45] days/);
});

test('client: io.l5d.global tls, io.l5d.static configs with prefix variables, and their mistakes', { skip }, () => {
  const global = parseConfig(router('', '  client:\n    kind: io.l5d.global\n    tls: {commonName: echo.example, trustCerts: [ca.crt], clientAuth: {certPath: server.crt, keyPath: server.key}}\n'), { baseDir: pki.dir });
  assert.deepEqual(global.config.routers[0]!.client.tls, {
    commonName: 'echo.example',
    trustCerts: [join(pki.dir, 'ca.crt')],
    clientAuth: { certPath: join(pki.dir, 'server.crt'), keyPath: join(pki.dir, 'server.key') },
    disableValidation: false,
  });
  const statics = parseConfig(
    router('', '  client:\n    kind: io.l5d.static\n    configs:\n    - prefix: "/#/io.l5d.k8s/{ns}/{port}/{svc}"\n      tls: {commonName: "{svc}.{ns}.svc.cluster.local", trustCerts: [ca.crt]}\n    - prefix: /$/inet/*\n'),
    { baseDir: pki.dir },
  );
  assert.deepEqual(statics.config.routers[0]!.client.configs, [
    { prefix: '/#/io.l5d.k8s/{ns}/{port}/{svc}', tls: { commonName: '{svc}.{ns}.svc.cluster.local', trustCerts: [join(pki.dir, 'ca.crt')], disableValidation: false } },
    { prefix: '/$/inet/*' },
  ]);
  assert.deepEqual(errorsOf(router('', '  client:\n    kind: io.l5d.static\n    configs:\n    - prefix: "/#/io.l5d.k8s/{ns}"\n      tls: {commonName: "{svc}.{ns}"}\n')), [
    'routers[0].client.configs[0].tls.commonName: {svc} is not a variable of the prefix (it has {ns}) (config.yaml:9:25)',
  ]);
  assert.match(errorsOf(router('', '  client:\n    tls: {commonName: "{svc}.x"}\n'))[0]!, /client\.tls\.commonName: \{svc\} needs a prefix that names it/);
  assert.match(errorsOf(router('', '  client:\n    configs: []\n'))[0]!, /client\.configs: "configs" needs client kind io\.l5d\.static/);
  assert.match(errorsOf(router('', '  client:\n    kind: io.l5d.static\n    configs:\n    - {prefix: /a, loadBalancer: {kind: p2c}}\n'))[0]!, /configs\[0\]\.loadBalancer: "loadBalancer" is not supported: per-prefix client settings/);
  assert.match(errorsOf(router('', '  client:\n    kind: io.l5d.static\n    configs:\n    - {prefix: "/a/x{b}"}\n'))[0]!, /configs\[0\]\.prefix: segment "x\{b\}": a variable is a whole segment/);
});

test('-p mode: --target-ca/--target-name make every client speak TLS, named after the target by default', { skip }, async () => {
  const opts = { shutdownDelayMs: 0, admin: { ip: '127.0.0.1', port: 9990 }, defaultNamespace: undefined };
  const k8s = proxyModeConfig([parseProxySpec(':5000-kubernetes:///echo-server.prod:grpc')], { ...opts, targetTls: { ca: pki.ca.cert } });
  assert.deepEqual(k8s.routers[0]!.client.tls, { commonName: 'echo-server.prod.svc.cluster.local', trustCerts: [pki.ca.cert], disableValidation: false });
  const ip = proxyModeConfig([parseProxySpec(':5000-127.0.0.1:8443')], { ...opts, targetTls: { ca: 'system', name: 'api.example', cert: server.cert, key: server.key } });
  assert.deepEqual(ip.routers[0]!.client.tls, { commonName: 'api.example', trustCerts: [], clientAuth: { certPath: server.cert, keyPath: server.key }, disableValidation: false });
  const run = await runCli(['-p', ':5000-dns:///api.example:443', '--target-ca', pki.ca.cert, '--print-config']);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(JSON.parse(run.stdout).routers[0].client.tls.commonName, 'api.example');
  const bad = await runCli(['-p', ':5000-127.0.0.1:8443', '--target-name', 'x']);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /--target-name, --target-cert and --target-key need --target-ca/);
  void ROOT;
});
