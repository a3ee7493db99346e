import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const CLI = new URL('../src/cli.js', import.meta.url).pathname;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/**
 * A `kube-grpc-router control` process serving the `io.l5d.fs` names under `rootDir` over xDS on
 * 127.0.0.1, for a bench router that subscribes to it (BENCH_ROUTER_NAMER=xds). Resolves once its
 * /ready says yes; `stop` ends it.
 */
export async function startControlProcess(rootDir: string): Promise<{ address: string; stop: () => void }> {
  const [xds, admin, unused] = [await freePort(), await freePort(), await freePort()];
  const file = join(rootDir, '..', `${rootDir.split('/').pop()}-control.yaml`);
  writeFileSync(
    file,
    [
      `admin: {ip: 127.0.0.1, port: ${admin}}`,
      `namers: [{kind: io.l5d.fs, rootDir: ${JSON.stringify(rootDir)}}]`,
      // The loader wants a router; the control plane takes its dtab and never opens its servers.
      `routers: [{protocol: h2, label: control, dtab: "/svc => /#/io.l5d.fs", servers: [{ip: 127.0.0.1, port: ${unused}}]}]`,
      `xds: {ip: 127.0.0.1, port: ${xds}}`,
      'shutdownDelay: 0s',
    ].join('\n'),
  );
  const child = spawn(process.execPath, [CLI, 'control', '--config', file, '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'inherit'] });
  for (const start = Date.now(); ; await sleep(50)) {
    const ready = await fetch(`http://127.0.0.1:${admin}/ready`).then((r) => r.status === 200, () => false);
    if (ready) break;
    if (child.exitCode !== null || Date.now() - start > 30_000) throw new Error('the control plane did not become ready');
  }
  return { address: `127.0.0.1:${xds}`, stop: () => child.kill('SIGTERM') };
}
