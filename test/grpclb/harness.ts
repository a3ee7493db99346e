// A router process with a grpclb balancer, its fs namer directory and live dtab file, and a grpc-js
// client that speaks the grpclb protocol message by message (shared by the grpclb tests).
import * as grpc from '@grpc/grpc-js';
import http2 from 'node:http2';
import { parseConfig } from '../../src/config/load.js';
import { loadBalancerService, type LbRequest } from '../../src/grpclb/server.js';
import { startRouterProcess, type RouterProcess } from '../../src/main.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { Logger } from '../../src/util/log.js';
import { freePort } from '../e2e/process.js';
import { DuplexReader } from '../fixtures/grpc/duplex-reader.js';
import { NamerDir } from '../fixtures/namer-dir.js';

export interface LbHarness {
  readonly proc: RouterProcess;
  readonly dir: string;
  readonly metrics: Metrics;
  readonly lbAddress: string;
  /** Replace the endpoints of fs-namer service `name` (written aside and renamed: no half-written file is ever read). */
  endpoints(name: string, lines: string[]): void;
  /** Replace the live dtab file. */
  dtab(text: string): void;
  close(): Promise<void>;
}

/**
 * Start a router process from config: `/svc => /#/io.l5d.fs` in the live dtab file unless `dtab`
 * says otherwise (and `baseDtab` as the router's `dtab`), an fs namer on `<dir>/endpoints` unless
 * `namers` gives the YAML list, and `grpclb` on a free port with `grpclbExtra`.
 */
export async function startLb(
  options: {
    dtab?: string;
    baseDtab?: string;
    namers?: string;
    grpclbExtra?: string;
    routerExtra?: string;
    endpoints?: Record<string, string[]>;
    lbPort?: number;
  } = {},
): Promise<LbHarness> {
  // Files the dtab names exist before the router starts watching them.
  const files = new NamerDir('kgr-grpclb-', options.dtab ?? '/svc => /#/io.l5d.fs;\n', options.endpoints);
  const [adminPort, routerPort, lbPort] = [await freePort(), await freePort(), options.lbPort ?? (await freePort())];
  const text = `admin: {ip: 127.0.0.1, port: ${adminPort}}
namers:
${options.namers ?? `- {kind: io.l5d.fs, rootDir: ${files.endpointsDir}}`}
routers:
- protocol: h2
  label: lb
  dtab: ${JSON.stringify(options.baseDtab ?? '')}
  interpreter: {kind: io.l5d.fs, dtabFile: ${files.dtabFile}}
  servers: [{ip: 127.0.0.1, port: ${routerPort}}]
${options.routerExtra ?? ''}
grpclb: {ip: 127.0.0.1, port: ${lbPort}${options.grpclbExtra ? `, ${options.grpclbExtra}` : ''}}
shutdownDelay: 0s
shutdownGrace: 1s
`;
  const metrics = new Metrics({ processMetrics: false });
  let proc: RouterProcess;
  try {
    proc = await startRouterProcess(parseConfig(text).config, { log: Logger.silent(), metrics });
  } catch (err) {
    files.remove();
    throw err;
  }
  return {
    proc,
    dir: files.dir,
    metrics,
    lbAddress: `127.0.0.1:${proc.grpclb!.port}`,
    endpoints: (name, lines) => files.endpoints(name, lines),
    dtab: (t) => files.dtab(t),
    close: async () => {
      await proc.close();
      files.remove();
    },
  };
}

export interface LbResponse {
  load_balance_response_type: 'initial_response' | 'server_list';
  initial_response?: { load_balancer_delegate: string; client_stats_report_interval: { seconds: number; nanos: number } | null };
  server_list?: { servers: { ip_address: Buffer; port: number; load_balance_token: string; drop: boolean }[] };
}

/** One BalanceLoad stream, its responses queued in order and awaited one at a time. */
export class LbStream extends DuplexReader<LbRequest, LbResponse> {
  constructor(client: grpc.Client) {
    super((client as unknown as { BalanceLoad(): grpc.ClientDuplexStream<LbRequest, LbResponse> }).BalanceLoad());
  }

  send(m: LbRequest): void {
    this.call.write(m);
  }

  /** The next server list, as `ip:port` strings in order. */
  async nextList(timeoutMs = 2000): Promise<string[]> {
    const m = await this.next(timeoutMs);
    if (m.load_balance_response_type !== 'server_list') throw new Error(`expected server_list, got ${JSON.stringify(m)}`);
    return m.server_list!.servers.map((s) => `${ipText(s.ip_address)}:${s.port}`);
  }

}

export function ipText(b: Buffer): string {
  if (b.length === 4) return [...b].join('.');
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push(b.readUInt16BE(i).toString(16));
  return `[${words.join(':')}]`;
}

export function lbClient(address: string, options?: grpc.ClientOptions): grpc.Client {
  const Ctor = loadBalancerService();
  return new Ctor(address, grpc.credentials.createInsecure(), options);
}

/** The encoded LoadBalanceRequest{initial_request{name}} as one gRPC message (names under 120 bytes). */
function initialRequestFrame(name: string): Buffer {
  const n = Buffer.from(name);
  const message = Buffer.concat([Buffer.from([0x0a, n.length + 2, 0x0a, n.length]), n]);
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
}

/**
 * A hostile client: `count` BalanceLoad streams over one HTTP/2 connection, `concurrency` at a time,
 * each naming `flood-<i>.default` and half-closing. Written on node:http2 directly (a grpc-js client
 * costs as much per stream as the balancer does). Returns the count of each grpc-status;
 * `onEach` runs as each stream ends.
 */
export async function floodNames(address: string, count: number, onEach: () => void, concurrency = 64): Promise<Map<string, number>> {
  const session = http2.connect(`http://${address}`);
  session.on('error', () => {});
  const codes = new Map<string, number>();
  const status = (code: string) => codes.set(grpc.status[Number(code)] ?? code, (codes.get(grpc.status[Number(code)] ?? code) ?? 0) + 1);
  let next = 0;
  const one = (name: string) =>
    new Promise<void>((resolve) => {
      const req = session.request({ ':method': 'POST', ':path': '/grpc.lb.v1.LoadBalancer/BalanceLoad', 'content-type': 'application/grpc', te: 'trailers' });
      req.on('response', (h) => h['grpc-status'] !== undefined && status(String(h['grpc-status'])));
      req.on('trailers', (t) => t['grpc-status'] !== undefined && status(String(t['grpc-status'])));
      req.on('data', () => {});
      req.on('error', () => status('stream error'));
      req.on('close', resolve);
      req.end(initialRequestFrame(name));
    });
  try {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < count) {
          await one(`flood-${next++}.default`);
          onEach();
        }
      }),
    );
  } finally {
    session.close();
  }
  return codes;
}
