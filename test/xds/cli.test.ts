import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, get, runCli, startCli } from '../e2e/process.js';
import { adsClient, AdsClient } from './harness.js';

/** `kube-grpc-router control` as a user runs it: the built CLI, as a process. */

test('control --print-bootstrap prints a bootstrap grpc-js-xds accepts, with the pod as its node', async () => {
  const run = await runCli(['control', '--print-bootstrap'], {
    env: { POD_NAME: 'web-7d9f', POD_NAMESPACE: 'shop', NODE_NAME: 'node-3', KGR_ZONE: 'eu-west-1a', KGR_XDS_SERVER: 'kgr-control.infra:18000' },
  });
  assert.equal(run.code, 0, run.stderr);
  const bootstrap = JSON.parse(run.stdout) as Record<string, unknown>;
  assert.deepEqual(bootstrap, {
    xds_servers: [{ server_uri: 'kgr-control.infra:18000', channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
    node: { id: 'shop/web-7d9f', cluster: 'shop', metadata: { NODE_NAME: 'node-3' }, locality: { zone: 'eu-west-1a' } },
  });
  // grpc-js-xds's own validation (what GRPC_XDS_BOOTSTRAP_CONFIG goes through).
  const { validateBootstrapConfig } = createRequire(import.meta.url)('@grpc/grpc-js-xds/build/src/xds-bootstrap.js') as { validateBootstrapConfig(o: unknown): { node: { id: string } } };
  assert.equal(validateBootstrapConfig(bootstrap).node.id, 'shop/web-7d9f');
  const flag = await runCli(['control', '--print-bootstrap', '--xds-server', '10.0.0.5:18000'], { env: { KGR_XDS_SERVER: '' } });
  assert.equal((JSON.parse(flag.stdout) as { xds_servers: { server_uri: string }[] }).xds_servers[0]!.server_uri, '10.0.0.5:18000');
});

test('control --config: a bad xds key is named with file:line:col; a good config serves ADS until SIGTERM', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kgr-control-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const [admin, unused, xds] = [await freePort(), await freePort(), await freePort()];
  const config = (xdsLine: string) => `admin: {ip: 127.0.0.1, port: ${admin}}
routers:
- protocol: h2
  label: control
  dtab: /svc/echo.Echo => /$/inet/127.0.0.1/9001;
  servers: [{ip: 127.0.0.1, port: ${unused}}]
${xdsLine}
shutdownDelay: 0s
`;
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, config('xds: {ip: 127.0.0.1, port: 99999, router: nope}'));
  const failed = await runCli(['control', '--config', bad]);
  assert.equal(failed.code, 1);
  assert.match(failed.stderr, new RegExp(`xds.port: expected an integer 1-65535, got 99999 \\(${bad.replace(/[.]/g, '\\.')}:7:28\\)`));
  assert.match(failed.stderr, /xds.router: no router is labelled "nope" \(routers: "control"\)/);

  const good = join(dir, 'good.yaml');
  writeFileSync(good, config(`xds: {ip: 127.0.0.1, port: ${xds}}`));
  const plane = startCli(['control', '--config', good]);
  t.after(() => plane.kill());
  await plane.waitFor(/control plane started/);
  assert.equal((await get(`http://127.0.0.1:${admin}/ready`)).status, 200);
  const client = adsClient(`127.0.0.1:${xds}`);
  t.after(() => client.close());
  const s = new AdsClient(client);
  s.request('route', ['echo.Echo']);
  const rds = await s.nextOf('route');
  assert.equal(rds.resources[0]!.virtual_hosts[0].routes[0].route.cluster, '/$/inet/127.0.0.1/9001');
  plane.child.kill('SIGTERM');
  assert.equal((await s.status).code, 14, 'the stream is ended UNAVAILABLE: clients move to another replica');
  assert.deepEqual(await plane.exited, { code: 0, signal: null });
});
