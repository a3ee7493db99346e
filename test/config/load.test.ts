import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../../src/config/errors.js';
import { loadConfigFile, parseConfig } from '../../src/config/load.js';
import { parseDuration } from '../../src/config/duration.js';

const SEED = fileURLToPath(new URL('../fixtures/config/linkerd-grpc-seed.yaml', import.meta.url));

/** The messages of a config that must fail, one formatted line each. */
function errorsOf(text: string, source = 'config.yaml'): string[] {
  try {
    parseConfig(text, { source, baseDir: '/etc/kgr' });
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err.message.split('\n');
  }
  assert.fail('config was accepted');
}

const MINIMAL = 'routers:\n- protocol: h2\n  servers:\n  - port: 4140\n';

test("the seed example's Linkerd config loads unchanged", () => {
  const { config, ignored } = loadConfigFile(SEED);
  assert.deepEqual(config.admin, { ip: '127.0.0.1', port: 9990, controlEnabled: false, maxConnections: 1000, maxConnectionsPerClient: 16 });
  assert.deepEqual(config.namers, [
    { kind: 'io.l5d.k8s', prefix: '/#/io.l5d.k8s', host: 'localhost', port: 8001, preferLocalNode: false, idleTtlSecs: 600, maxWatches: 1000, maxNames: 1000, watchesPerSecond: 20, watchesBurst: 1000 },
  ]);
  assert.equal(config.routers.length, 1);
  const router = config.routers[0]!;
  assert.equal(router.label, 'outgoing');
  assert.equal(router.dtab.trim(), '/svc/com.example.grpc.EchoService => /#/io.l5d.k8s/default/grpc/echo-server');
  assert.deepEqual(router.identifier, [{ kind: 'io.l5d.header.path', header: ':path', segments: 1 }]);
  assert.deepEqual(
    router.servers.map((s) => [s.ip, s.port]),
    [['0.0.0.0', 4140]],
  );
  // Linkerd-only keys are accepted and reported as ignored, never silently.
  assert.deepEqual(ignored.map((i) => i.path).sort(), ['namers[0].experimental', 'routers[0].experimental', 'telemetry', 'usage']);
  assert.ok(ignored.every((i) => i.reason.length > 0));
});

test('every default is filled from a minimal config', () => {
  const { config } = parseConfig(MINIMAL);
  assert.deepEqual(config, {
    admin: { ip: '127.0.0.1', port: 9990, controlEnabled: false, maxConnections: 1000, maxConnectionsPerClient: 16 },
    namers: [],
    routers: [
      {
        protocol: 'h2',
        label: 'h2',
        servers: [
          {
            ip: '127.0.0.1',
            port: 4140,
            clearContext: false,
            maxConcurrentStreamsPerConnection: 1000,
            maxConcurrentRequests: 20_000,
            maxConcurrentRequestsPerClient: 5_000,
            maxCallDepth: 10,
            maxHeaderListBytes: 16384,
            idleTimeoutMs: 300_000,
            prefaceTimeoutMs: 10_000,
            keepAliveIntervalMs: 10_000,
            keepAliveTimeoutMs: 5000,
            sendTimeoutMs: 300_000,
            sendTimeoutUnderPressureMs: 10_000,
            maxContinuationFrames: 32,
            maxResetStreamsPerSecond: 1000,
            maxPingsPerSecond: 100,
            maxSettingsPerSecond: 100,
            maxEmptyFramesPerSecond: 1000,
            maxBufferedBytesPerConnection: 1 << 20,
            maxBufferedBytes: 32 << 20,
            maxBufferedBytesPerClient: 8 << 20,
            maxHeaderBytesInFlight: 32 << 20,
            maxHeaderBytesInFlightPerClient: 8 << 20,
            maxConnections: 10_000,
            maxConnectionsPerClient: 64,
          },
        ],
        identifier: [{ kind: 'io.l5d.header.path', header: ':path', segments: 1 }],
        dstPrefix: '/svc',
        dtab: '',
        interpreter: { kind: 'default' },
        bindingTimeoutMs: 10000,
        client: {
          loadBalancer: { kind: 'roundRobin', decayTimeMs: 10000 },
          failureAccrual: { kind: 'io.l5d.consecutiveFailures', failures: 5, backoff: { minMs: 5000, maxMs: 300000 } },
          maxAttempts: 3,
          keepAliveIntervalMs: 0,
          keepAliveTimeoutMs: 20000,
          connectTimeoutMs: 3000,
          maxConnectionsPerEndpoint: 256,
          maxStreamsPerConnection: 0,
          sendTimeoutMs: 60_000,
          maxResetsPerConnection: 200,
          resetsRefillPerSecond: 33,
        },
        service: {},
        bindingCache: { paths: 1000, clients: 1000, clientsPerClient: 250, idleTtlMs: 600_000, transientIdleTtlMs: 10_000 },
        metricSeries: { clients: 500, routes: 1000, endpoints: 2000 },
      },
    ],
    shutdownDelayMs: 5000,
    shutdownGraceMs: 25000,
    endpointWindows: { earlyCreditBytes: 32 << 20, growthBytes: 32 << 20, growthBytesPerClient: 8 << 20, connectionBytes: 32 << 20, queuedRequestBytes: 32 << 20, queuedRequestBytesPerClient: 8 << 20, replayBytes: 32 << 20, replayBytesPerClient: 8 << 20 },
  });
});

test('every supported key is read', () => {
  const { config } = parseConfig(
    `admin: {ip: 0.0.0.0, port: 9991, controlEnabled: true, maxConnections: 20, maxConnectionsPerClient: 4}
namers:
- {kind: io.l5d.k8s}
- {kind: io.l5d.k8s.ns, prefix: /k8sns, envVar: MY_NS, preferLocalNode: true, idleTtlSecs: 30, maxWatches: 50, maxNames: 300, watchesPerSecond: 0, watchesBurst: 7}
- {kind: io.l5d.dns, refreshIntervalSeconds: 2, dnsHosts: ["10.0.0.10:53"], maxNames: 200, namesPerSecond: 5, namesBurst: 9}
- {kind: io.l5d.fs, rootDir: disco}
routers:
- protocol: h2
  label: out
  dstPrefix: /grpc
  identifier:
  - {kind: io.l5d.header.token, header: X-Service}
  - {kind: io.l5d.header.path}
  dtab: /grpc => /#/io.l5d.fs
  interpreter: {kind: io.l5d.fs, dtabFile: live.dtab}
  bindingTimeoutMs: 2000
  h2AccessLog: access.log
  client:
    kind: io.l5d.global
    loadBalancer: {kind: ewma, decayTimeMs: 5000}
    failureAccrual: {kind: io.l5d.consecutiveFailures, failures: 3, backoff: {kind: constant, ms: 100}}
    maxAttempts: 2
    keepAliveIntervalMs: 30000
    keepAliveTimeoutMs: 5000
    connectTimeoutMs: 1000
    maxConnectionsPerEndpoint: 8
    maxStreamsPerConnection: 4
    sendTimeoutMs: 20000
    maxResetsPerConnection: 100
    resetsRefillPerSecond: 10
  service: {totalTimeoutMs: 1500}
  bindingCache: {paths: 200, clients: 100, clientsPerClient: 10, idleTtlSecs: 120, transientIdleTtlSecs: 3, trees: 1000, bounds: 1000}
  metricSeries: {clients: 20, routes: 40, endpoints: 60}
  servers:
  - {ip: 0.0.0.0, port: 4140, clearContext: true, maxConcurrentStreamsPerConnection: 100, maxConcurrentRequests: 500, maxConcurrentRequestsPerClient: 50, maxCallDepth: 3, maxHeaderListBytes: 8192, idleTimeoutMs: 60000,
     prefaceTimeoutMs: 2000, keepAliveIntervalMs: 0, keepAliveTimeoutMs: 1000, sendTimeoutMs: 30000, sendTimeoutUnderPressureMs: 2000, maxContinuationFrames: 4, maxResetStreamsPerSecond: 50,
     maxPingsPerSecond: 10, maxSettingsPerSecond: 5, maxEmptyFramesPerSecond: 20, maxBufferedBytesPerConnection: 262144, maxBufferedBytes: 2097152, maxBufferedBytesPerClient: 1048576, maxHeaderBytesInFlight: 65536, maxHeaderBytesInFlightPerClient: 16384, maxConnections: 50, maxConnectionsPerClient: 5}
- protocol: h2
  label: quiet
  client: {failureAccrual: {kind: none}}
  h2AccessLog: "-"
  servers: [{port: 4141}]
shutdownDelay: 1m30s
shutdownGrace: 2500
endpointWindows: {earlyCreditBytes: 4194304, growthBytes: 8388608, growthBytesPerClient: 1048576, connectionBytes: 2097152, queuedRequestBytes: 3145728, queuedRequestBytesPerClient: 1048576, replayBytes: 16777216, replayBytesPerClient: 65536}
`,
    { source: '/etc/kgr/config.yaml' },
  );
  assert.deepEqual(config.endpointWindows, { earlyCreditBytes: 4 << 20, growthBytes: 8 << 20, growthBytesPerClient: 1 << 20, connectionBytes: 2 << 20, queuedRequestBytes: 3 << 20, queuedRequestBytesPerClient: 1 << 20, replayBytes: 16 << 20, replayBytesPerClient: 64 << 10 });
  assert.deepEqual(config.admin, { ip: '0.0.0.0', port: 9991, controlEnabled: true, maxConnections: 20, maxConnectionsPerClient: 4 });
  assert.deepEqual(config.namers[0], { kind: 'io.l5d.k8s', prefix: '/#/io.l5d.k8s', preferLocalNode: false, idleTtlSecs: 600, maxWatches: 1000, maxNames: 1000, watchesPerSecond: 20, watchesBurst: 1000 });
  assert.deepEqual(config.namers[1], { kind: 'io.l5d.k8s.ns', prefix: '/#/k8sns', envVar: 'MY_NS', preferLocalNode: true, idleTtlSecs: 30, maxWatches: 50, maxNames: 300, watchesPerSecond: 0, watchesBurst: 7 });
  assert.deepEqual(config.namers[2], { kind: 'io.l5d.dns', prefix: '/#/io.l5d.dns', refreshIntervalSeconds: 2, dnsHosts: ['10.0.0.10:53'], maxNames: 200, namesPerSecond: 5, namesBurst: 9 });
  // Relative paths resolve against the config file's directory.
  assert.deepEqual(config.namers[3], { kind: 'io.l5d.fs', prefix: '/#/io.l5d.fs', rootDir: '/etc/kgr/disco' });
  const [out, quiet] = config.routers as [NonNullable<(typeof config.routers)[0]>, NonNullable<(typeof config.routers)[0]>];
  assert.deepEqual(out.identifier, [
    { kind: 'io.l5d.header.token', header: 'x-service' },
    { kind: 'io.l5d.header.path', header: ':path' },
  ]);
  assert.equal(out.dstPrefix, '/grpc');
  assert.deepEqual(out.interpreter, { kind: 'io.l5d.fs', dtabFile: '/etc/kgr/live.dtab' });
  assert.equal(out.h2AccessLog, '/etc/kgr/access.log');
  assert.equal(out.bindingTimeoutMs, 2000);
  assert.deepEqual(out.client, {
    loadBalancer: { kind: 'ewma', decayTimeMs: 5000 },
    failureAccrual: { kind: 'io.l5d.consecutiveFailures', failures: 3, backoff: { minMs: 100, maxMs: 100 } },
    maxAttempts: 2,
    keepAliveIntervalMs: 30000,
    keepAliveTimeoutMs: 5000,
    connectTimeoutMs: 1000,
    maxConnectionsPerEndpoint: 8,
    maxStreamsPerConnection: 4,
    sendTimeoutMs: 20000,
    maxResetsPerConnection: 100,
    resetsRefillPerSecond: 10,
  });
  assert.deepEqual(out.service, { totalTimeoutMs: 1500 });
  assert.deepEqual(out.bindingCache, { paths: 200, clients: 100, clientsPerClient: 10, idleTtlMs: 120_000, transientIdleTtlMs: 3000 });
  assert.deepEqual(out.metricSeries, { clients: 20, routes: 40, endpoints: 60 });
  assert.deepEqual(out.servers[0], {
    ip: '0.0.0.0',
    port: 4140,
    clearContext: true,
    maxConcurrentStreamsPerConnection: 100,
    maxConcurrentRequests: 500,
    maxConcurrentRequestsPerClient: 50,
    maxCallDepth: 3,
    maxHeaderListBytes: 8192,
    idleTimeoutMs: 60000,
    prefaceTimeoutMs: 2000,
    keepAliveIntervalMs: 0,
    keepAliveTimeoutMs: 1000,
    sendTimeoutMs: 30000,
    sendTimeoutUnderPressureMs: 2000,
    maxContinuationFrames: 4,
    maxResetStreamsPerSecond: 50,
    maxPingsPerSecond: 10,
    maxSettingsPerSecond: 5,
    maxEmptyFramesPerSecond: 20,
    maxBufferedBytesPerConnection: 262144,
    maxBufferedBytes: 2097152,
    maxBufferedBytesPerClient: 1048576,
    maxHeaderBytesInFlight: 65536,
    maxHeaderBytesInFlightPerClient: 16384,
    maxConnections: 50,
    maxConnectionsPerClient: 5,
  });
  assert.deepEqual(quiet.client.failureAccrual, { kind: 'none' });
  assert.equal(quiet.h2AccessLog, '-');
  assert.equal(config.shutdownDelayMs, 90_000);
  assert.equal(config.shutdownGraceMs, 2500);
});

test('a wrong value names key path, file, line, column and what was expected', () => {
  const text = `admin:
  port: 9990
routers:
- protocol: h2
  servers:
  - ip: 0.0.0.0
    port: 41a0
`;
  assert.deepEqual(errorsOf(text), ['routers[0].servers[0].port: expected an integer 1-65535, got "41a0" (config.yaml:7:11)']);
  assert.deepEqual(errorsOf(MINIMAL.replace('4140', '70000')), ['routers[0].servers[0].port: expected an integer 1-65535, got 70000 (config.yaml:4:11)']);
  assert.deepEqual(errorsOf(MINIMAL.replace('4140', '[1]')), ['routers[0].servers[0].port: expected an integer 1-65535, got a list (config.yaml:4:11)']);
  assert.deepEqual(errorsOf(`${MINIMAL}  metricSeries: {endpoints: 0}\n`), [
    'routers[0].metricSeries.endpoints: expected an integer 1-1000000, got 0 (config.yaml:5:29)',
  ]);
});

test('server connection timeouts: 0 means never (not for keepAliveTimeoutMs), and no more than a Node timer can wait', () => {
  const server = (keys: string) => MINIMAL.replace('- port: 4140', `- {port: 4140, ${keys}}`);
  const { config } = parseConfig(server('idleTimeoutMs: 0, prefaceTimeoutMs: 0, keepAliveIntervalMs: 0, sendTimeoutMs: 0'));
  assert.equal(config.routers[0]!.servers[0]!.sendTimeoutMs, 0);
  assert.equal(config.routers[0]!.servers[0]!.idleTimeoutMs, 0);
  assert.equal(config.routers[0]!.servers[0]!.prefaceTimeoutMs, 0);
  assert.equal(config.routers[0]!.servers[0]!.keepAliveIntervalMs, 0);
  // A longer delay would make Node fire the timer at once and close every connection.
  assert.deepEqual(errorsOf(server('idleTimeoutMs: 2147483648')), [
    'routers[0].servers[0].idleTimeoutMs: expected an integer 0-2147483647, got 2147483648 (config.yaml:4:33)',
  ]);
  assert.deepEqual(errorsOf(server('prefaceTimeoutMs: -1')), ['routers[0].servers[0].prefaceTimeoutMs: expected an integer 0-2147483647, got -1 (config.yaml:4:36)']);
  assert.deepEqual(errorsOf(server('keepAliveIntervalMs: 1.5')), [
    'routers[0].servers[0].keepAliveIntervalMs: expected an integer 0-2147483647, got 1.5 (config.yaml:4:39)',
  ]);
  assert.deepEqual(errorsOf(server('keepAliveTimeoutMs: 0')), ['routers[0].servers[0].keepAliveTimeoutMs: expected an integer 1-2147483647, got 0 (config.yaml:4:38)']);
  assert.deepEqual(errorsOf(server('prefaceTimeout: 5')), [
    'routers[0].servers[0].prefaceTimeout: unknown key "prefaceTimeout" in routers[0].servers[0]; did you mean "prefaceTimeoutMs"? (config.yaml:4:18)',
  ]);
});

test('unknown keys are errors with a did-you-mean suggestion', () => {
  assert.deepEqual(errorsOf('admin: {prot: 1}\n' + MINIMAL), ['admin.prot: unknown key "prot" in admin; did you mean "port"? (config.yaml:1:9)']);
  assert.deepEqual(errorsOf('admin: {maxConnections: 0}\n' + MINIMAL), ['admin.maxConnections: expected an integer 1-100000, got 0 (config.yaml:1:25)']);
  assert.deepEqual(errorsOf('admin: {maxConnectionsPerClient: many}\n' + MINIMAL), ['admin.maxConnectionsPerClient: expected an integer 1-100000, got "many" (config.yaml:1:34)']);
  assert.deepEqual(errorsOf(MINIMAL + '    maxBufferedBytes: 65536\n'), ['routers[0].servers[0].maxBufferedBytes: expected an integer 1048576-2147483647, got 65536 (config.yaml:5:23)']);
  // A client address's share of maxBufferedBytes: within it, and a quarter of it when only it is set.
  assert.deepEqual(errorsOf(MINIMAL + '    maxBufferedBytes: 2097152\n    maxBufferedBytesPerClient: 4194304\n').map((e) => e.replace(/ \(config.yaml:\d+:\d+\)$/, '')), ['routers[0].servers[0].maxBufferedBytesPerClient: expected at most maxBufferedBytes (2097152), got 4194304']);
  assert.equal(parseConfig(MINIMAL + '    maxBufferedBytes: 2097152\n').config?.routers[0]?.servers[0]?.maxBufferedBytesPerClient, 1 << 19);
  // The per-client share of window growth: within the growth, and a quarter of it when only the growth is set.
  assert.deepEqual(errorsOf(MINIMAL + 'endpointWindows: {growthBytes: 1048576, growthBytesPerClient: 2097152}\n').map((e) => e.replace(/ \(config.yaml:\d+:\d+\)$/, '')), ['endpointWindows.growthBytesPerClient: expected at most growthBytes (1048576), got 2097152']);
  assert.deepEqual(parseConfig(MINIMAL + 'endpointWindows: {growthBytes: 1048576}\n').config?.endpointWindows, { earlyCreditBytes: 32 << 20, growthBytes: 1 << 20, growthBytesPerClient: 1 << 18, connectionBytes: 32 << 20, queuedRequestBytes: 32 << 20, queuedRequestBytesPerClient: 8 << 20, replayBytes: 32 << 20, replayBytesPerClient: 8 << 20 });
  // The replay budget and its per-client share likewise.
  assert.deepEqual(errorsOf(MINIMAL + 'endpointWindows: {replayBytes: 1048576, replayBytesPerClient: 2097152}\n'), ['endpointWindows.replayBytesPerClient: expected at most replayBytes (1048576), got 2097152 (config.yaml:5:63)']);
  assert.deepEqual(errorsOf(MINIMAL + 'endpointWindows: {replayBytes: -1}\n'), ['endpointWindows.replayBytes: expected an integer 0-2147483647, got -1 (config.yaml:5:32)']);
  assert.deepEqual(errorsOf(MINIMAL + 'endpointWindows: {replayBytesPerClient: 8MiB}\n'), ['endpointWindows.replayBytesPerClient: expected an integer 0-2147483647, got "8MiB" (config.yaml:5:41)']);
  assert.deepEqual(errorsOf(MINIMAL + 'endpointWindows: {replayBytesPerClient: 33554433}\n'), ['endpointWindows.replayBytesPerClient: expected at most replayBytes (33554432), got 33554433 (config.yaml:5:41)']);
  assert.deepEqual(parseConfig(MINIMAL + 'endpointWindows: {replayBytes: 1048576}\n').config?.endpointWindows, { earlyCreditBytes: 32 << 20, growthBytes: 32 << 20, growthBytesPerClient: 8 << 20, connectionBytes: 32 << 20, queuedRequestBytes: 32 << 20, queuedRequestBytesPerClient: 8 << 20, replayBytes: 1 << 20, replayBytesPerClient: 1 << 18 });
  assert.deepEqual(parseConfig(MINIMAL + 'endpointWindows: {replayBytesPerClient: 65536}\n').config?.endpointWindows.replayBytesPerClient, 64 << 10);
  // The queued-request budget and its per-client share likewise.
  assert.deepEqual(errorsOf(MINIMAL + 'endpointWindows: {queuedRequestBytes: 1048576, queuedRequestBytesPerClient: 2097152}\n').map((e) => e.replace(/ \(config.yaml:\d+:\d+\)$/, '')), ['endpointWindows.queuedRequestBytesPerClient: expected at most queuedRequestBytes (1048576), got 2097152']);
  assert.equal(parseConfig(MINIMAL + 'endpointWindows: {queuedRequestBytes: 1048576}\n').config?.endpointWindows.queuedRequestBytesPerClient, 1 << 18);
  // The per-client share of bound clients likewise: within clients, and a quarter of them when only clients is set.
  assert.deepEqual(errorsOf(MINIMAL + '  bindingCache: {clients: 8, clientsPerClient: 9}\n').map((e) => e.replace(/ \(config.yaml:\d+:\d+\)$/, '')), ['routers[0].bindingCache.clientsPerClient: expected at most clients (8), got 9']);
  assert.equal(parseConfig(MINIMAL + '  bindingCache: {clients: 8}\n').config?.routers[0]?.bindingCache.clientsPerClient, 2);
  assert.equal(parseConfig(MINIMAL + '  bindingCache: {clients: 3}\n').config?.routers[0]?.bindingCache.clientsPerClient, 1);
  assert.deepEqual(errorsOf(MINIMAL + '  dtabb: /a=>/b\n'), ['routers[0].dtabb: unknown key "dtabb" in routers[0]; did you mean "dtab"? (config.yaml:5:3)']);
  assert.deepEqual(errorsOf(MINIMAL + 'routerz: []\n'), ['routerz: unknown key "routerz"; did you mean "routers"? (config.yaml:5:1)']);
  // Nothing close: no guess.
  assert.deepEqual(errorsOf(MINIMAL + 'zzzzzz: 1\n'), ['zzzzzz: unknown key "zzzzzz" (config.yaml:5:1)']);
  // A key valid for another kind is unknown for this one.
  assert.deepEqual(errorsOf('namers:\n- kind: io.l5d.fs\n  rootDir: /x\n  host: h\n' + MINIMAL), [
    'namers[0].host: unknown key "host" in namers[0] (config.yaml:4:3)',
  ]);
});

test('unknown kinds suggest the closest one', () => {
  assert.deepEqual(errorsOf('namers:\n- kind: io.l5d.k8\n' + MINIMAL), [
    'namers[0].kind: expected one of "io.l5d.k8s", "io.l5d.k8s.ns", "io.l5d.dns", "io.l5d.dnssrv", "io.l5d.fs", "io.l5d.xds", got "io.l5d.k8"; did you mean "io.l5d.k8s"? (config.yaml:2:9)',
  ]);
  assert.deepEqual(errorsOf(MINIMAL + '  client: {loadBalancer: {kind: roundrobin}}\n'), [
    'routers[0].client.loadBalancer.kind: expected one of "roundRobin", "p2c", "ewma", got "roundrobin"; did you mean "roundRobin"? (config.yaml:5:33)',
  ]);
  assert.deepEqual(errorsOf(MINIMAL.replace('h2', 'http')), ['routers[0].protocol: expected "h2", got "http" (only HTTP/2 gRPC routers are supported) (config.yaml:2:13)']);
});

test('missing required keys, empty lists and bad shapes', () => {
  assert.deepEqual(errorsOf('admin: {port: 9990}\n'), ['routers: missing required key (expected a list of routers) (config.yaml:1:1)']);
  assert.deepEqual(errorsOf('routers: []\n'), ['routers: expected at least one router (config.yaml:1:10)']);
  assert.deepEqual(errorsOf('routers:\n- protocol: h2\n'), ['routers[0].servers: missing required key (expected a list of servers) (config.yaml:2:3)']);
  assert.deepEqual(errorsOf('routers:\n- servers: [{port: 1}]\n'), ['routers[0].protocol: missing required key (expected "h2") (config.yaml:2:3)']);
  assert.deepEqual(errorsOf('routers: {protocol: h2}\n'), ['routers: expected a list, got a mapping (config.yaml:1:10)']);
  assert.deepEqual(errorsOf(MINIMAL + '  interpreter: {kind: io.l5d.fs}\n'), [
    'routers[0].interpreter.dtabFile: missing required key (expected the path of a dtab file) (config.yaml:5:16)',
  ]);
  assert.deepEqual(errorsOf(''), ['the config is empty (expected a mapping with at least "routers") (config.yaml:1:1)']);
  assert.deepEqual(errorsOf('- 1\n'), ['expected a mapping, got a list (config.yaml:1:1)']);
});

test('durations: units, combinations and milliseconds', () => {
  assert.equal(parseDuration('5s'), 5000);
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('1m30s'), 90000);
  assert.equal(parseDuration('1.5s'), 1500);
  assert.equal(parseDuration('250'), 250);
  assert.equal(parseDuration(42), 42);
  assert.equal(parseDuration('5'), 5);
  for (const bad of ['5x', 's', '', '-1s', '1 s', '1s2']) assert.equal(parseDuration(bad), undefined, bad);
  assert.deepEqual(errorsOf(MINIMAL + 'shutdownGrace: soon\n'), [
    'shutdownGrace: expected a duration such as 5s, 500ms or 1m30s (or a number of milliseconds), got "soon" (config.yaml:5:16)',
  ]);
});

test('ports in use twice, duplicate labels and prefixes are caught before binding', () => {
  const text = `admin: {port: 4140}
namers:
- {kind: io.l5d.fs, rootDir: /a}
- {kind: io.l5d.fs, rootDir: /b}
routers:
- protocol: h2
  servers: [{port: 4140}]
- protocol: h2
  servers: [{ip: 0.0.0.0, port: 5000}, {ip: 127.0.0.1, port: 5000}]
`;
  assert.deepEqual(errorsOf(text), [
    'namers[1].prefix: duplicate namer prefix "/#/io.l5d.fs" (first at namers[0], line 3) (config.yaml:4:3)',
    'routers[0].servers[0].port: port 4140 is already used by admin.port (line 1) (config.yaml:7:20)',
    'routers[1].label: duplicate router label "h2" (first at routers[0], line 6) (config.yaml:8:3)',
    'routers[1].servers[1].port: port 5000 is already used by routers[1].servers[0].port (line 9) (config.yaml:9:62)',
  ]);
  // Different IPs on one port are fine.
  parseConfig('routers:\n- protocol: h2\n  servers: [{ip: 127.0.0.1, port: 5000}, {ip: 127.0.0.2, port: 5000}]\n');
});

test('admin.probes: a probes-only listener, defaults filled; its errors name their key paths; its port may not clash', () => {
  const admin = (text: string) => parseConfig(text + MINIMAL).config.admin;
  assert.equal(admin('admin: {port: 9990}\n').probes, undefined, 'none unless asked for');
  assert.deepEqual(admin('admin:\n  probes: {}\n').probes, { ip: '0.0.0.0', port: 9991, metrics: false });
  assert.deepEqual(admin('admin: {ip: 127.0.0.1, probes: {ip: 10.1.2.3, port: 4191, metrics: true}}\n'), {
    ip: '127.0.0.1',
    port: 9990,
    probes: { ip: '10.1.2.3', port: 4191, metrics: true },
    controlEnabled: false,
    maxConnections: 1000,
    maxConnectionsPerClient: 16,
  });
  assert.deepEqual(errorsOf('admin:\n  probes: {ip: "1.2.3", port: 0, metrics: "yes", metric: true}\n' + MINIMAL), [
    'admin.probes.ip: expected an IP address such as 127.0.0.1 or 0.0.0.0, got "1.2.3" (config.yaml:2:16)',
    'admin.probes.port: expected an integer 1-65535, got 0 (config.yaml:2:31)',
    'admin.probes.metrics: expected true or false, got "yes" (config.yaml:2:43)',
    'admin.probes.metric: unknown key "metric" in admin.probes; did you mean "metrics"? (config.yaml:2:50)',
  ]);
  assert.deepEqual(errorsOf('admin:\n  probes: true\n' + MINIMAL), ['admin.probes: expected a mapping, got true (config.yaml:2:11)']);
  // The admin server on 127.0.0.1 and the probes on every address cannot share a port.
  assert.deepEqual(errorsOf('admin:\n  port: 9990\n  probes: {port: 9990}\n' + MINIMAL), ['admin.probes.port: port 9990 is already used by admin.port (line 2) (config.yaml:3:18)']);
});

test('all errors are reported at once, in file order', () => {
  const lines = errorsOf(`admin:
  ip: 1.2.3
routers:
- protocol: h2
  label: 7
  servers:
  - port: 0
    clearContext: yes please
  identifier: {kind: io.l5d.header.path, segments: 0}
  bindingTimeoutMs: -1
  client: {keepAliveIntervalMs: 500, maxResetsPerConnection: -1, resetsRefillPerSecond: 0.5}
`);
  assert.deepEqual(lines, [
    'admin.ip: expected an IP address such as 127.0.0.1 or 0.0.0.0, got "1.2.3" (config.yaml:2:7)',
    'routers[0].label: expected a string, got 7 (config.yaml:5:10)',
    'routers[0].servers[0].port: expected an integer 1-65535, got 0 (config.yaml:7:11)',
    'routers[0].servers[0].clearContext: expected true or false, got "yes please" (config.yaml:8:19)',
    'routers[0].identifier.segments: expected an integer 1-1000, got 0 (config.yaml:9:52)',
    'routers[0].bindingTimeoutMs: expected an integer ≥ 1, got -1 (config.yaml:10:21)',
    'routers[0].client.keepAliveIntervalMs: expected 0 (off) or at least 10000 (10 s), got 500 (config.yaml:11:33)',
    'routers[0].client.maxResetsPerConnection: expected an integer ≥ 0, got -1 (config.yaml:11:62)',
    'routers[0].client.resetsRefillPerSecond: expected an integer ≥ 0, got 0.5 (config.yaml:11:89)',
  ]);
});

test('YAML syntax errors point at the line', () => {
  const lines = errorsOf('routers:\n- protocol: h2\n  servers: [{port: 4140}\n');
  assert.equal(lines.length >= 1, true);
  assert.match(lines[0]!, /^invalid YAML: .* \(config\.yaml:\d+:\d+\)$/);
  assert.deepEqual(errorsOf('admin: {port: 1}\nadmin: {port: 2}\n' + MINIMAL).length, 1);
  assert.match(errorsOf('admin: {port: 1}\nadmin: {port: 2}\n' + MINIMAL)[0]!, /^invalid YAML: Map keys must be unique \(config\.yaml:2:1\)$/);
});

test('loadConfigFile names the file in messages and a missing file clearly', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kgr-config-'));
  try {
    const file = join(dir, 'router.yaml');
    writeFileSync(file, MINIMAL.replace('4140', '"4140"'));
    assert.throws(() => loadConfigFile(file), (err: Error) => err.message === `routers[0].servers[0].port: expected an integer 1-65535, got "4140" (${file}:4:11)`);
    assert.throws(() => loadConfigFile(join(dir, 'nope.yaml')), (err: Error) => err.message === `cannot read config: no such file (${join(dir, 'nope.yaml')}:1:1)`);
    assert.ok(readFileSync(file, 'utf8').length > 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('namer prefixes accept the Linkerd form and the full form', () => {
  const { config } = parseConfig('namers:\n- {kind: io.l5d.fs, rootDir: /a, prefix: /disco}\n- {kind: io.l5d.fs, rootDir: /b, prefix: "/#/other"}\n' + MINIMAL);
  assert.deepEqual(
    config.namers.map((n) => n.prefix),
    ['/#/disco', '/#/other'],
  );
  assert.deepEqual(errorsOf('namers:\n- {kind: io.l5d.fs, rootDir: /a, prefix: "no slash"}\n' + MINIMAL), [
    'namers[0].prefix: expected a path such as /io.l5d.k8s (segments of letters, digits and _:.#$%-), got "no slash" (config.yaml:2:42)',
  ]);
});

test('the router dtab is parsed at load and a syntax error points inside the YAML file', () => {
  // A literal block: the error's dtab line 2, column 19 is file line 6, column 23 (4 spaces of indent).
  const block = `routers:
- protocol: h2
  servers: [{port: 4140}]
  dtab: |
    /svc => /#/io.l5d.k8s/default/grpc;
    /svc/b => /#/a/b &;
`;
  const [line] = errorsOf(block);
  assert.match(line!, /^routers\[0\]\.dtab: invalid dtab: expected .* but found ';' \(config\.yaml:6:23\)$/);
  // A plain one-line value.
  assert.match(errorsOf(MINIMAL + '  dtab: /svc => /a /b\n')[0]!, /^routers\[0\]\.dtab: invalid dtab: expected .* but found '\/' \(config\.yaml:5:20\)$/);
  // A quoted value.
  assert.match(errorsOf(MINIMAL + '  dtab: "/svc => /a;;"\n')[0]!, /^routers\[0\]\.dtab: invalid dtab: expected .* but found ';' \(config\.yaml:5:21\)$/);
  // A folded block whose error is at the end of the text.
  assert.match(errorsOf(MINIMAL + '  dtab: >\n    /svc =>\n')[0]!, /^routers\[0\]\.dtab: invalid dtab: expected .* but found end of input \(config\.yaml:6:12\)$/);
  // A good dtab with comments loads.
  parseConfig(MINIMAL + '  dtab: |\n    # rules\n    /svc => /#/io.l5d.k8s/default/grpc; # the namer\n');
});

test('Linkerd keys that would change behaviour or security are refused with a reason, not ignored', () => {
  // TLS lives on servers[] and client; a router-level `tls` (Linkerd 0.x) is refused, saying where it goes.
  assert.deepEqual(errorsOf(MINIMAL + '  tls: {certPath: /c}\n'), [
    'routers[0].tls: "tls" is not supported: TLS is configured under servers[] (tls.certPath, …) and client (tls, or configs[].tls) (config.yaml:5:3)',
  ]);
  assert.match(errorsOf('namers:\n- kind: io.l5d.k8s\n  transformers: []\n' + MINIMAL)[0]!, /^namers\[0\]\.transformers: "transformers" is not supported: .* \(config\.yaml:3:3\)$/);
  assert.match(errorsOf('admin:\n  security: {pathBlacklist: [/admin/shutdown]}\n' + MINIMAL)[0]!, /^admin\.security\.pathBlacklist: "pathBlacklist" is not supported: bind admin\.ip/);
});
