import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/config/errors.js';
import { parseConfig } from '../../src/config/load.js';
import { NameInterpreter } from '../../src/dtab/interpreter.js';
import { parseDtab } from '../../src/dtab/parse.js';
import { globalNamer } from '../../src/namers/global.js';
import { createNamer, namerKinds } from '../../src/namers/registry.js';
import { Router } from '../../src/router/router.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { Logger } from '../../src/util/log.js';
import { Var } from '../../src/util/var.js';
import { echoClient } from '../../examples/echo/client.js';
import { startEchoServer } from '../../examples/echo/server.js';
import { staticNamerKind } from '../fixtures/namers/static-kind.js';

/**
 * A namer kind is one file: test/fixtures/namers/static-kind.ts, registered here, is read by the
 * real config loader (its keys, its errors at file:line:col) and routes a real gRPC call.
 */
namerKinds.register(staticNamerKind);

const SERVICE = 'com.example.grpc.EchoService';

function errorsOf(yaml: string): string[] {
  try {
    parseConfig(yaml);
  } catch (err) {
    if (err instanceof ConfigError) return err.message.split('\n');
    throw err;
  }
  return [];
}

const ROUTER = 'routers:\n- protocol: h2\n  servers:\n  - port: 4140\n';

test('a registered kind is listed, suggested and read by the config loader, its own keys checked', () => {
  assert.deepEqual(namerKinds.names(), ['io.l5d.k8s', 'io.l5d.k8s.ns', 'io.l5d.dns', 'io.l5d.dnssrv', 'io.l5d.fs', 'io.l5d.xds', 'io.test.static']);
  assert.throws(() => namerKinds.register(staticNamerKind), /namer kind "io.test.static" is already registered/);

  const { config } = parseConfig(`namers:\n- kind: io.test.static\n  prefix: /static\n  services:\n  - {name: echo, endpoints: ["127.0.0.1:9"]}\n${ROUTER}`);
  assert.deepEqual(config.namers, [{ kind: 'io.test.static', prefix: '/#/static', services: [{ name: 'echo', endpoints: ['127.0.0.1:9'] }] }]);

  assert.deepEqual(errorsOf(`namers:\n- kind: io.test.statc\n${ROUTER}`), [
    'namers[0].kind: expected one of "io.l5d.k8s", "io.l5d.k8s.ns", "io.l5d.dns", "io.l5d.dnssrv", "io.l5d.fs", "io.l5d.xds", "io.test.static", got "io.test.statc"; did you mean "io.test.static"? (config.yaml:2:9)',
  ]);
  assert.deepEqual(errorsOf(`namers:\n- kind: io.test.static\n  servces: []\n  rootDir: /x\n${ROUTER}`), [
    'namers[0].servces: unknown key "servces" in namers[0]; did you mean "services"? (config.yaml:3:3)',
    'namers[0].rootDir: unknown key "rootDir" in namers[0] (config.yaml:4:3)',
  ]);
  assert.deepEqual(errorsOf(`namers:\n- kind: io.test.static\n  services:\n  - {name: echo, endpoints: [nope]}\n${ROUTER}`), [
    'namers[0].services[0].endpoints[0]: expected "ip:port", got "nope" (config.yaml:4:30)',
  ]);
});

test('a registered kind built from a loaded config routes a gRPC call', async (t) => {
  const echo = await startEchoServer({ name: 'static-echo' });
  t.after(() => echo.close());
  const yaml = `namers:\n- kind: io.test.static\n  services:\n  - {name: echo, endpoints: ["127.0.0.1:${echo.port}"]}\n${ROUTER}  dtab: /svc/${SERVICE} => /#/io.test.static/echo;\n`;
  const { config } = parseConfig(yaml);
  const metrics = new Metrics({ processMetrics: false });
  const log = Logger.silent();
  const namers = await Promise.all(config.namers.map((n) => createNamer(n, { metrics, log })));
  assert.equal(namers[0]!.prefix.show(), '/#/io.test.static');
  // Port 0 (ephemeral) is a test-only choice the config rightly refuses.
  const routerConfig = { ...config.routers[0]!, servers: config.routers[0]!.servers.map((s) => ({ ...s, port: 0 })) };
  const interpreter = new NameInterpreter({ global: globalNamer(), namers });
  const router = new Router(routerConfig, { interpreter, dtab: new Var(parseDtab(routerConfig.dtab)), metrics, log });
  await router.start();
  t.after(() => router.close());
  const client = echoClient(`127.0.0.1:${router.boundPorts[0]!.port}`);
  t.after(() => client.close());
  const reply = await client.echo('through a registered kind', { deadlineMs: 5000 });
  assert.equal(reply.from, 'static-echo');
});
