/**
 * Discovery latency: time from an EndpointSlice change at the Kubernetes API to the first gRPC
 * response from the new endpoint, through a real Router built from YAML config with the
 * `io.l5d.k8s` namer watching the API test server. 100 changes; prints p50/p99 (target p99 < 100 ms,
 * where DNS-based clients wait 30 s and more).
 *
 * Each change moves the service to a fresh echo server (a MODIFIED slice whose only endpoint is the
 * new server), while a client keeps 4 calls in flight; a change counts as seen when a response says
 * it came from the new server.
 */
import { parseConfig } from '../src/config/load.js';
import { createNamer } from '../src/namers/registry.js';
import { globalNamer } from '../src/namers/global.js';
import { NameInterpreter } from '../src/dtab/interpreter.js';
import { parseDtab } from '../src/dtab/parse.js';
import { Router } from '../src/router/router.js';
import { Metrics } from '../src/telemetry/metrics.js';
import { Logger } from '../src/util/log.js';
import { Var } from '../src/util/var.js';
import { startEchoServer, type EchoServer } from '../examples/echo/server.js';
import { echoClient } from '../examples/echo/client.js';
import { KubeApiServer } from '../test/fixtures/k8s/api-server.js';

const CHANGES = Number(process.env.CHANGES ?? 100);

async function main(): Promise<void> {
  const api = await KubeApiServer.start();
  const servers: EchoServer[] = [];
  for (let i = 0; i <= CHANGES; i++) servers.push(await startEchoServer());
  api.applyService('default', 'echo', [{ name: 'grpc', port: 80, targetPort: 'grpc' }]);
  const moveTo = (s: EchoServer) => api.applySlice('default', 'echo-1', 'echo', [{ ip: '127.0.0.1' }], [{ name: 'grpc', port: s.port }]);
  moveTo(servers[0]!);

  const { config } = parseConfig(
    [
      'namers:',
      '- kind: io.l5d.k8s',
      '  host: 127.0.0.1',
      `  port: ${api.port}`,
      'routers:',
      '- protocol: h2',
      '  dtab: /svc => /#/io.l5d.k8s/default/grpc/echo',
      '  servers:',
      '  - port: 4140',
    ].join('\n'),
  );
  const metrics = new Metrics({ processMetrics: false });
  const log = Logger.silent();
  const namers = await Promise.all(config.namers.map((c) => createNamer(c, { metrics, log })));
  const interpreter = new NameInterpreter({ namers, global: globalNamer() });
  const routerConfig = { ...config.routers[0]!, servers: config.routers[0]!.servers.map((s) => ({ ...s, port: 0 })) };
  const router = new Router(routerConfig, { interpreter, dtab: new Var(parseDtab(routerConfig.dtab)), metrics, log });
  await router.start();
  const client = echoClient(`127.0.0.1:${router.boundPorts[0]!.port}`);

  let want = servers[0]!.address;
  let changedAt = 0;
  let seen: (() => void) | undefined;
  let running = true;
  let errors = 0;
  const loop = async () => {
    while (running) {
      try {
        const res = await client.echo('x', { deadlineMs: 5000 });
        if (res.from === want && seen) {
          const done = seen;
          seen = undefined;
          done();
        }
      } catch {
        errors++;
      }
    }
  };
  const loops = [loop(), loop(), loop(), loop()];
  // Warm up: the route is bound and the first endpoint answers.
  await new Promise<void>((resolve) => (seen = resolve));

  const samples: number[] = [];
  for (let i = 1; i <= CHANGES; i++) {
    const next = servers[i]!;
    const observed = new Promise<void>((resolve) => (seen = resolve));
    want = next.address;
    changedAt = performance.now();
    moveTo(next);
    await observed;
    samples.push(performance.now() - changedAt);
  }
  running = false;
  await Promise.all(loops);
  client.close();
  await router.close();
  for (const n of namers) await n.namer.close?.();
  await api.close();
  await Promise.all(servers.map((s) => s.close()));

  samples.sort((a, b) => a - b);
  const pct = (q: number) => samples[Math.min(samples.length - 1, Math.ceil(q * samples.length) - 1)]!;
  console.log(
    `namer latency (EndpointSlice change -> first response from the new endpoint), ${samples.length} changes: ` +
      `p50 ${pct(0.5).toFixed(1)} ms, p99 ${pct(0.99).toFixed(1)} ms, max ${samples[samples.length - 1]!.toFixed(1)} ms` +
      (errors ? ` (${errors} failed calls)` : ''),
  );
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
