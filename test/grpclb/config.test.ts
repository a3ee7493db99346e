import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/config/errors.js';
import { parseConfig } from '../../src/config/load.js';

const ROUTERS = 'routers:\n- protocol: h2\n  label: outgoing\n  servers: [{port: 4140}]\n- protocol: h2\n  label: second\n  servers: [{port: 4141}]\n';

function errorsOf(text: string): string[] {
  try {
    parseConfig(text);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message.split('\n');
  }
  assert.fail('config was accepted');
}

test('grpclb is off without the key; with it, every default is filled', () => {
  assert.equal(parseConfig(ROUTERS).config.grpclb, undefined);
  assert.deepEqual(parseConfig(`${ROUTERS}grpclb: {}\n`).config.grpclb, {
    ip: '127.0.0.1',
    port: 4150,
    router: 'outgoing',
    clientStatsIntervalMs: 10_000,
    maxNames: 1000,
    maxStreams: 10_000,
    maxStreamsPerClient: 100,
    maxConnections: 2000,
    maxConnectionsPerClient: 100,
  });
  assert.deepEqual(
    parseConfig(`${ROUTERS}grpclb: {ip: 0.0.0.0, port: 8000, router: second, clientStatsIntervalSecs: 0, maxNames: 5, maxStreams: 6, maxStreamsPerClient: 2, maxConnections: 7, maxConnectionsPerClient: 3}\n`).config.grpclb,
    { ip: '0.0.0.0', port: 8000, router: 'second', clientStatsIntervalMs: 0, maxNames: 5, maxStreams: 6, maxStreamsPerClient: 2, maxConnections: 7, maxConnectionsPerClient: 3 },
  );
});

test('grpclb mistakes are reported with their key path and position', () => {
  assert.deepEqual(errorsOf(`${ROUTERS}grpclb: {router: third}\n`), [
    'grpclb.router: no router is labelled "third" (routers: "outgoing", "second") (config.yaml:8:18)',
  ]);
  assert.deepEqual(errorsOf(`${ROUTERS}grpclb: {port: 4141}\n`), [
    'grpclb.port: port 4141 is already used by routers[1].servers[0].port (line 7) (config.yaml:8:16)',
  ]);
  const [unknown] = errorsOf(`${ROUTERS}grpclb: {prot: 1}\n`);
  assert.match(unknown!, /^grpclb\.prot: unknown key "prot" in grpclb; did you mean "port"\?/);
  assert.match(errorsOf(`${ROUTERS}grpclb: {maxNames: 0}\n`)[0]!, /^grpclb\.maxNames: expected an integer 1-1000000/);
});
