// A router process with a grpclb balancer, its fs namer directory and live dtab file, and a grpc-js
// client that speaks the grpclb protocol message by message (shared by the grpclb tests).
import * as grpc from '@grpc/grpc-js';
import { mkdtempSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import { loadBalancerService, type LbRequest } from '../../src/grpclb/server.js';
import { startRouterProcess, type RouterProcess } from '../../src/main.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { Logger } from '../../src/util/log.js';
import { freePort } from '../e2e/process.js';

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
  const dir = mkdtempSync(join(tmpdir(), 'kgr-grpclb-'));
  mkdirSync(join(dir, 'endpoints'));
  const write = (file: string, text: string) => {
    writeFileSync(`${file}.tmp`, text);
    renameSync(`${file}.tmp`, file);
  };
  write(join(dir, 'dtab'), options.dtab ?? '/svc => /#/io.l5d.fs;\n');
  // Files the dtab names exist before the router starts watching them.
  for (const [name, lines] of Object.entries(options.endpoints ?? {})) write(join(dir, 'endpoints', name), lines.map((l) => `${l}\n`).join(''));
  const [adminPort, routerPort, lbPort] = [await freePort(), await freePort(), options.lbPort ?? (await freePort())];
  const text = `admin: {ip: 127.0.0.1, port: ${adminPort}}
namers:
${options.namers ?? `- {kind: io.l5d.fs, rootDir: ${join(dir, 'endpoints')}}`}
routers:
- protocol: h2
  label: lb
  dtab: ${JSON.stringify(options.baseDtab ?? '')}
  interpreter: {kind: io.l5d.fs, dtabFile: ${join(dir, 'dtab')}}
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
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    proc,
    dir,
    metrics,
    lbAddress: `127.0.0.1:${proc.grpclb!.port}`,
    endpoints: (name, lines) => write(join(dir, 'endpoints', name), lines.map((l) => `${l}\n`).join('')),
    dtab: (t) => write(join(dir, 'dtab'), t),
    close: async () => {
      await proc.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface LbResponse {
  load_balance_response_type: 'initial_response' | 'server_list';
  initial_response?: { load_balancer_delegate: string; client_stats_report_interval: { seconds: number; nanos: number } | null };
  server_list?: { servers: { ip_address: Buffer; port: number; load_balance_token: string; drop: boolean }[] };
}

/** One BalanceLoad stream, its responses queued in order and awaited one at a time. */
export class LbStream {
  private readonly queue: LbResponse[] = [];
  private waiter: (() => void) | undefined;
  readonly status: Promise<grpc.StatusObject>;
  ended: grpc.StatusObject | undefined;
  readonly call: grpc.ClientDuplexStream<LbRequest, LbResponse>;

  constructor(client: grpc.Client) {
    this.call = (client as unknown as { BalanceLoad(): grpc.ClientDuplexStream<LbRequest, LbResponse> }).BalanceLoad();
    this.call.on('data', (m: LbResponse) => {
      this.queue.push(m);
      this.waiter?.();
    });
    this.status = new Promise((resolve) =>
      this.call.on('status', (s: grpc.StatusObject) => {
        this.ended = s;
        this.waiter?.();
        resolve(s);
      }),
    );
    this.call.on('error', () => {});
  }

  send(m: LbRequest): void {
    this.call.write(m);
  }

  /** The next response, within `timeoutMs` (rejects if none comes, or the stream ends first). */
  async next(timeoutMs = 2000): Promise<LbResponse> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = this.queue.shift();
      if (m) return m;
      if (this.ended) throw new Error(`stream ended ${grpc.status[this.ended.code]}: ${this.ended.details}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no response within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = undefined;
    }
  }

  /** The next server list, as `ip:port` strings in order. */
  async nextList(timeoutMs = 2000): Promise<string[]> {
    const m = await this.next(timeoutMs);
    if (m.load_balance_response_type !== 'server_list') throw new Error(`expected server_list, got ${JSON.stringify(m)}`);
    return m.server_list!.servers.map((s) => `${ipText(s.ip_address)}:${s.port}`);
  }

  /** Responses already received and not yet read. */
  get buffered(): number {
    return this.queue.length;
  }

  cancel(): void {
    this.call.cancel();
  }
}

export function ipText(b: Buffer): string {
  if (b.length === 4) return [...b].join('.');
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push(b.readUInt16BE(i).toString(16));
  return `[${words.join(':')}]`;
}

export function lbClient(address: string): grpc.Client {
  const Ctor = loadBalancerService();
  return new Ctor(address, grpc.credentials.createInsecure());
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
