// A control plane (`kube-grpc-router control`, in process) with an fs namer directory and a live
// dtab file, and the calls the proxyless-client tests make through it (shared by test/xds/).
import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { Logger } from '../../src/util/log.js';
import { readControlConfig } from '../../src/xds/config.js';
import { startControlPlane, type ControlPlane } from '../../src/xds/control.js';
import { freePort } from '../e2e/process.js';

export interface ControlHarness {
  readonly plane: ControlPlane;
  readonly dir: string;
  readonly metrics: Metrics;
  /** `127.0.0.1:<xds port>`: the bootstrap's server_uri. */
  readonly address: string;
  /** Replace the endpoints of fs-namer service `name` (written aside and renamed: no half-written file is ever read). */
  endpoints(name: string, lines: string[]): void;
  removeEndpoints(name: string): void;
  /** Replace the live dtab file. */
  dtab(text: string): void;
  close(): Promise<void>;
}

/**
 * Start a control plane from config text: `dtab` in its live dtab file, an fs namer on
 * `<dir>/endpoints` unless `namers` gives the YAML list, and `xds` on a free port with `xdsExtra`.
 */
export async function startControl(options: { dtab?: string; namers?: string; endpoints?: Record<string, string[]>; xdsExtra?: string; log?: Logger } = {}): Promise<ControlHarness> {
  const dir = mkdtempSync(join(tmpdir(), 'kgr-xds-'));
  mkdirSync(join(dir, 'endpoints'));
  const write = (file: string, text: string) => {
    writeFileSync(`${file}.tmp`, text);
    renameSync(`${file}.tmp`, file);
  };
  write(join(dir, 'dtab'), options.dtab ?? '/svc => /#/io.l5d.fs;\n');
  for (const [name, lines] of Object.entries(options.endpoints ?? {})) write(join(dir, 'endpoints', name), lines.map((l) => `${l}\n`).join(''));
  const [adminPort, unusedRouterPort, xdsPort] = [await freePort(), await freePort(), await freePort()];
  const text = `admin: {ip: 127.0.0.1, port: ${adminPort}}
namers:
${options.namers ?? `- {kind: io.l5d.fs, rootDir: ${join(dir, 'endpoints')}}`}
routers:
- protocol: h2
  label: control
  interpreter: {kind: io.l5d.fs, dtabFile: ${join(dir, 'dtab')}}
  servers: [{ip: 127.0.0.1, port: ${unusedRouterPort}}]
xds: {ip: 127.0.0.1, port: ${xdsPort}${options.xdsExtra ? `, ${options.xdsExtra}` : ''}}
shutdownDelay: 0s
`;
  const metrics = new Metrics({ processMetrics: false });
  let plane: ControlPlane;
  try {
    const { config } = parseConfig(text, { source: 'control.yaml' });
    plane = await startControlPlane(config, readControlConfig('control.yaml', text, config), { log: options.log ?? Logger.silent(), metrics });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    plane,
    dir,
    metrics,
    address: `127.0.0.1:${plane.xds.port}`,
    endpoints: (name, lines) => write(join(dir, 'endpoints', name), lines.map((l) => `${l}\n`).join('')),
    removeEndpoints: (name) => rmSync(join(dir, 'endpoints', name)),
    dtab: (t) => write(join(dir, 'dtab'), t),
    close: async () => {
      await plane.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Something that makes `n` calls and says which backend answered each. */
export type Caller = (n: number) => Promise<string[]>;

/** Call in batches of 10 until `ok(batch)`; returns how long that took (ms). Fails past `limitMs`. */
export async function until(call: Caller, what: string, ok: (froms: string[]) => boolean, limitMs = 1000): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const froms = await call(10);
    const ms = performance.now() - t0;
    if (ok(froms)) return ms;
    assert.ok(ms < limitMs, `${what}: not seen by the client after ${ms.toFixed(0)} ms (last batch ${froms.join(' ')})`);
  }
}

/** How many of `froms` each backend answered. */
export function tally(froms: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const f of froms) out[f] = (out[f] ?? 0) + 1;
  return out;
}

export function line(port: number): string {
  return `127.0.0.1 ${port}`;
}

/** A grpc-js caller over a channel: unary calls, one at a time. */
export function grpcJsCaller(client: grpc.Client): Caller {
  const unary = (client as unknown as { Unary(req: object, options: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: { from: string }) => void): void }).Unary.bind(client);
  return async (n) => {
    const froms: string[] = [];
    for (let i = 0; i < n; i++) {
      froms.push(
        await new Promise<string>((resolve, reject) =>
          unary({ message: 'hi' }, { deadline: Date.now() + 5000 }, (err, res) => (err ? reject(err) : resolve(res!.from))),
        ),
      );
    }
    return froms;
  };
}
