import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DnsServer } from '../fixtures/dns-server.js';
import { assertPythonGrpc, PythonClient } from '../fixtures/grpc/python-client.js';
import { startTestServer, type TestServer } from '../fixtures/grpc/test-service.js';
import { startLb } from './harness.js';

/**
 * A real grpclb client against the router: gRPC C-core (Debian's python3-grpcio; .ci/run installs
 * it) resolving `dns://<fixture>/echo-lb.test:<port>` through the DNS fixture, which serves the
 * target's A record and the `_grpclb._tcp.echo-lb.test` SRV record that names the balancer, as a
 * headless Kubernetes Service with a port named `grpclb` would. The client then calls real backends
 * from the lists the balancer pushes; endpoint changes are made through the fs namer.
 */
test('a real grpclb client (C-core) finds the balancer by DNS SRV, calls the endpoints it lists, and sees scale-out and scale-in within a second', async (t) => {
  assertPythonGrpc();

  const backends: Record<string, TestServer> = {};
  let lb: Awaited<ReturnType<typeof startLb>> | undefined;
  let dns: DnsServer | undefined;
  let client: PythonClient | undefined;
  // Registered first: whatever fails below, what did start is stopped (else the file hangs to its timeout).
  t.after(async () => {
    client?.close();
    await lb?.close();
    await dns?.close();
    for (const b of Object.values(backends)) await b.close();
  });
  for (const name of ['A', 'B', 'C', 'fallback']) backends[name] = await startTestServer({ name });
  const { A, B, C, fallback } = backends as Record<'A' | 'B' | 'C' | 'fallback', TestServer>;
  const line = (s: TestServer) => `127.0.0.1 ${s.port}`;
  lb = await startLb({ grpclbExtra: 'clientStatsIntervalSecs: 1', endpoints: { 'echo-lb.test': [line(A), line(B)] } });
  dns = await DnsServer.start();

  // What a headless Service `echo-lb` with a port named grpclb gives a client's DNS.
  dns.setAddresses('echo-lb.test', ['127.0.0.1']);
  dns.setSrv('_grpclb._tcp.echo-lb.test', [{ priority: 0, weight: 0, port: lb.proc.grpclb!.port!, target: 'lb.test' }]);
  dns.setAddresses('lb.test', ['127.0.0.1']);

  // The target's port is the fallback backend's: calls reach it only if grpclb is not in charge.
  client = new PythonClient('grpclb', `dns://${dns.address}/echo-lb.test:${fallback.port}`, { GRPC_DNS_RESOLVER: 'ares' });

  const first = await client.calls(20);
  assert.deepEqual([...new Set(first)].sort(), ['A', 'B'], `round robin over the balancer's list: ${first.join(' ')}`);
  assert.ok(dns.count('_grpclb._tcp.echo-lb.test', 'SRV') >= 1, 'the client asked DNS for the balancer');

  lb.endpoints('echo-lb.test', [line(A), line(B), line(C)]);
  const out = await client.until('scale-out', (froms) => froms.includes('C'));
  t.diagnostic(`scale-out seen by the client after ${out.toFixed(0)} ms`);

  lb.endpoints('echo-lb.test', [line(B), line(C)]);
  const inMs = await client.until('scale-in', (froms) => !froms.includes('A'));
  t.diagnostic(`scale-in seen by the client after ${inMs.toFixed(0)} ms`);
  const after = await client.calls(20);
  assert.deepEqual([...new Set(after)].sort(), ['B', 'C'], `the removed backend gets no more calls: ${after.join(' ')}`);
  assert.equal(fallback.calls.Unary ?? 0, 0, 'no call fell back to the DNS A records');

  // C-core reports client stats every second, as the initial response asked; they are counted.
  const started = async () => Number(/^kgr_grpclb_client_calls_total\{kind="started"\} (\d+)/m.exec(await lb.metrics.registry.metrics())?.[1] ?? 0);
  const t0 = performance.now();
  while ((await started()) === 0) {
    assert.ok(performance.now() - t0 < 5000, 'no client stats within 5 s');
    await client.calls(1);
  }
  assert.ok((await started()) > 0);
});
