// A control plane (`kube-grpc-router control`, in process) with an fs namer directory and a live
// dtab file, the calls the proxyless-client tests make through it, and a raw ADS client (shared by test/xds/).
/* eslint-disable @typescript-eslint/no-explicit-any -- decoded protobuf objects are read field by field */
import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/load.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import type { Clock } from '../../src/util/clock.js';
import { Logger } from '../../src/util/log.js';
import { readControlConfig } from '../../src/xds/config.js';
import { startControlPlane, type ControlPlane } from '../../src/xds/control.js';
import { adsServiceDefinition, TYPE_URLS, xdsRoot, type DiscoveryRequest, type DiscoveryResponse, type ResourceType } from '../../src/xds/protos.js';
import { freePort } from '../e2e/process.js';
import type { Caller } from '../fixtures/grpc/call-until.js';
import { DuplexReader } from '../fixtures/grpc/duplex-reader.js';
import { NamerDir } from '../fixtures/namer-dir.js';

export { until, type Caller } from '../fixtures/grpc/call-until.js';

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
 * `<dir>/endpoints` unless `namers` gives the YAML list, `xds` on a free port with `xdsExtra`, and
 * `shutdownDelay` (0s unless given) timed by `clock`.
 */
export async function startControl(options: { dtab?: string; namers?: string; endpoints?: Record<string, string[]>; xdsExtra?: string; log?: Logger; shutdownDelay?: string; clock?: Clock } = {}): Promise<ControlHarness> {
  const files = new NamerDir('kgr-xds-', options.dtab ?? '/svc => /#/io.l5d.fs;\n', options.endpoints);
  const [adminPort, unusedRouterPort, xdsPort] = [await freePort(), await freePort(), await freePort()];
  const text = `admin: {ip: 127.0.0.1, port: ${adminPort}}
namers:
${options.namers ?? `- {kind: io.l5d.fs, rootDir: ${files.endpointsDir}}`}
routers:
- protocol: h2
  label: control
  interpreter: {kind: io.l5d.fs, dtabFile: ${files.dtabFile}}
  servers: [{ip: 127.0.0.1, port: ${unusedRouterPort}}]
xds: {ip: 127.0.0.1, port: ${xdsPort}${options.xdsExtra ? `, ${options.xdsExtra}` : ''}}
shutdownDelay: ${options.shutdownDelay ?? '0s'}
`;
  const metrics = new Metrics({ processMetrics: false });
  let plane: ControlPlane;
  try {
    const { config } = parseConfig(text, { source: 'control.yaml' });
    plane = await startControlPlane(config, readControlConfig('control.yaml', text, config), { log: options.log ?? Logger.silent(), metrics, clock: options.clock });
  } catch (err) {
    files.remove();
    throw err;
  }
  return {
    plane,
    dir: files.dir,
    metrics,
    address: `127.0.0.1:${plane.xds.port}`,
    endpoints: (name, lines) => files.endpoints(name, lines),
    removeEndpoints: (name) => files.removeEndpoints(name),
    dtab: (t) => files.dtab(t),
    close: async () => {
      await plane.close();
      files.remove();
    },
  };
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

/** One StreamAggregatedResources stream driven message by message, its responses queued in order. */
export class AdsClient extends DuplexReader<Partial<DiscoveryRequest>, DiscoveryResponse> {
  private sentNode = false;

  constructor(
    client: grpc.Client,
    private readonly node = 'test-node',
  ) {
    super((client as unknown as { StreamAggregatedResources(): grpc.ClientDuplexStream<Partial<DiscoveryRequest>, DiscoveryResponse> }).StreamAggregatedResources());
  }

  /** Subscribe to exactly `names` of `type`, answering (ACK, or NACK with `nack`) the response `to`. */
  request(type: ResourceType, names: string[], to?: DiscoveryResponse, nack?: string): void {
    const m: Partial<DiscoveryRequest> = { type_url: TYPE_URLS[type], resource_names: names };
    // As gRPC clients do: the node in the first request only.
    if (!this.sentNode) m.node = { id: this.node, cluster: 'test', user_agent_name: 'kgr-test' };
    this.sentNode = true;
    if (to) {
      m.response_nonce = to.nonce;
      m.version_info = to.version_info;
    }
    if (nack !== undefined) m.error_detail = { code: grpc.status.INVALID_ARGUMENT, message: nack };
    this.call.write(m);
  }

  raw(m: Partial<DiscoveryRequest>): void {
    this.call.write(m);
  }

  /** The next response, which must be of `type`; its resources decoded. */
  async nextOf(type: ResourceType, timeoutMs = 2000): Promise<{ response: DiscoveryResponse; resources: Record<string, any>[] }> {
    const response = await this.next(timeoutMs);
    assert.equal(response.type_url, TYPE_URLS[type], `expected a ${type} response`);
    return { response, resources: response.resources.map(decodeResource) };
  }
}

export function adsClient(address: string, options?: grpc.ClientOptions): grpc.Client {
  const Ctor = grpc.makeGenericClientConstructor(adsServiceDefinition() as grpc.ServiceDefinition, 'AggregatedDiscoveryService');
  return new Ctor(address, grpc.credentials.createInsecure(), options);
}

/** An Any decoded by its type URL (nested Anys inside a Listener decoded too), as plain objects. */
export function decodeResource(any: { type_url: string; value: Buffer }): Record<string, any> {
  const type = xdsRoot().lookupType(any.type_url.replace('type.googleapis.com/', ''));
  const object = type.toObject(type.decode(any.value), { enums: String, longs: Number, defaults: false, oneofs: true }) as Record<string, any>;
  const hcm = object.api_listener?.api_listener;
  if (hcm) {
    object.api_listener.api_listener = decodeResource(hcm);
    object.api_listener.api_listener.http_filters = object.api_listener.api_listener.http_filters.map((f: any) => ({ ...f, typed_config: { type_url: f.typed_config.type_url } }));
  }
  return object;
}

/** A control plane and one ADS client on it, for `body`; both closed after. */
export async function withControl(options: Parameters<typeof startControl>[0], body: (c: ControlHarness, client: grpc.Client) => Promise<void>): Promise<void> {
  const c = await startControl(options);
  const client = adsClient(c.address);
  try {
    await body(c, client);
  } finally {
    client.close();
    await c.close();
  }
}

/** The value of one series of the control plane's metrics (0 when it has none yet). */
export const metric = async (c: ControlHarness, name: string, labels: string): Promise<number> =>
  Number(new RegExp(`^${name}\\{${labels}\\} (\\d+)`, 'm').exec(await c.metrics.registry.metrics())?.[1] ?? 0);
