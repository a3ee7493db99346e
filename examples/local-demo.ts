// The embedded default (`npm start`): the product working on a laptop, no Kubernetes needed.
// Three echo backends, the io.l5d.fs namer listing them, a live dtab file, the router on :4140,
// the dashboard on :9990, and a trickle of traffic so the dashboard moves.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../src/config/types.js';
import { exitOnSignals, startRouterProcess } from '../src/main.js';
import type { Logger } from '../src/util/log.js';
import { echoClient } from './echo/client.js';
import { startEchoServer, type EchoServer } from './echo/server.js';

const SERVICE = 'com.example.grpc.EchoService';
const LOCAL_DTAB = fileURLToPath(new URL('../../examples/local.dtab', import.meta.url));

export interface LocalDemoOptions {
  log: Logger;
  configFile: string;
  /** Calls per second of the built-in client. Default 5. */
  rate?: number;
}

export async function runLocalDemo(config: Config, options: LocalDemoOptions): Promise<void> {
  const { log } = options;
  const backends: EchoServer[] = [];
  for (let i = 1; i <= 3; i++) backends.push(await startEchoServer({ host: '127.0.0.1', port: 0, name: `backend-${i}` }));

  // Fill what the config points at in a temp dir: endpoints for the fs namer, and the live dtab.
  const dir = mkdtempSync(join(tmpdir(), 'kube-grpc-router-local-'));
  const endpoints = join(dir, 'endpoints');
  mkdirSync(endpoints);
  const endpointFile = join(endpoints, SERVICE);
  writeFileSync(endpointFile, backends.map((b) => `127.0.0.1 ${b.port}`).join('\n') + '\n');
  const dtabFile = join(dir, 'dtab');
  copyFileSync(LOCAL_DTAB, dtabFile);
  const fsNamer = config.namers.find((n) => n.kind === 'io.l5d.fs');
  if (fsNamer && fsNamer.kind === 'io.l5d.fs') fsNamer.rootDir = endpoints;
  const router = config.routers[0]!;
  if (router.interpreter.kind === 'io.l5d.fs') router.interpreter.dtabFile = dtabFile;
  const routerPort = portFromEnv('KGR_LOCAL_ROUTER_PORT');
  const adminPort = portFromEnv('KGR_LOCAL_ADMIN_PORT');
  if (routerPort) router.servers[0]!.port = routerPort;
  if (adminPort) config.admin.port = adminPort;

  const cleanup = async () => {
    await Promise.all(backends.map((b) => b.close()));
    rmSync(dir, { recursive: true, force: true });
  };
  let proc;
  try {
    proc = await startRouterProcess(config, { log });
  } catch (err) {
    await cleanup();
    throw err;
  }

  // A small client so the dashboard has something to show.
  const server = router.servers[0]!;
  const address = `${server.ip}:${server.port}`;
  const client = echoClient(address);
  const counts = new Map<string, number>();
  let calls = 0;
  let failures = 0;
  const traffic = setInterval(() => {
    calls++;
    client.echo(`hello ${calls}`, { deadlineMs: 2000 }).then(
      (res) => counts.set(res.from, (counts.get(res.from) ?? 0) + 1),
      () => failures++,
    );
  }, 1000 / (options.rate ?? 5));
  const report = setInterval(() => {
    const by = Object.fromEntries([...counts].sort());
    log.info('demo traffic', { calls, failures, answeredBy: by });
  }, 10_000);

  exitOnSignals(proc, log, {
    beforeExit: async () => {
      clearInterval(traffic);
      clearInterval(report);
      client.close();
      await cleanup();
    },
  });

  const dashboard = `http://${config.admin.ip}:${proc.admin.port}/`;
  process.stdout.write(
    [
      '',
      `kube-grpc-router is running the embedded local config (${options.configFile})`,
      `  router      ${address}  routes /svc/${SERVICE} to 3 local echo backends`,
      `  dashboard   ${dashboard}`,
      `  call it     node dist/examples/echo-call.js ${address} hello`,
      `  live dtab   ${dtabFile}   (edit it: the router reloads it within a second)`,
      `  endpoints   ${endpointFile}   (one "host port" line per backend)`,
      `  traffic     a built-in client sends ${options.rate ?? 5} calls a second`,
      'Press Ctrl-C to stop.',
      '',
    ].join('\n') + '\n',
  );
}

function portFromEnv(name: string): number | undefined {
  const raw = process.env[name];
  if (!raw) return undefined;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`${name}: expected a port 1-65535, got "${raw}"`);
  return port;
}
