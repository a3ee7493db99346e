import type { H2Stream } from '../../src/h2/stream.js';
import type { HeaderMap } from '../../src/proxy/headers.js';
import { Var } from '../../src/util/var.js';
import type { Addr, Address, BoundName } from '../../src/dtab/name.js';
import { Path } from '../../src/dtab/path.js';
import { Client } from '../../src/balancer/client.js';
import { ProxyCall, type CallObserver } from '../../src/proxy/call.js';
import { H2Server, type ServerHooks } from '../../src/proxy/server.js';
import { parseTimeout } from '../../src/proxy/grpc.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { Logger } from '../../src/util/log.js';
import type { Clock } from '../../src/util/clock.js';
import type { ClientConfig, ServerConfig } from '../../src/config/types.js';
import { defaultClientConfig, defaultServerConfig } from '../../src/config/load.js';

/**
 * The proxy room without routing: a real H2Server whose every stream goes to one balancer Client
 * over a live address set. Router tests cover naming; these cover the bytes.
 */
/** The loader's defaults, so these tests run what an empty config runs (on an ephemeral port). */
export const CLIENT_DEFAULTS: ClientConfig = defaultClientConfig();

export const SERVER_DEFAULTS: ServerConfig = { ...defaultServerConfig(), port: 0 };

export function addr(...ports: (number | { port: number; weight: number })[]): Addr {
  const addrs: Address[] = ports.map((p) =>
    typeof p === 'number' ? { host: '127.0.0.1', port: p, weight: 1, meta: {} } : { host: '127.0.0.1', port: p.port, weight: p.weight, meta: {} },
  );
  return { type: 'bound', addrs, meta: {} };
}

export class ProxyHarness implements CallObserver {
  readonly addr: Var<Addr>;
  readonly client: Client;
  readonly server: H2Server;
  readonly finishedCalls: ProxyCall[] = [];
  readonly metrics = new Metrics({ processMetrics: false });
  port = 0;

  constructor(initial: Addr, client: Partial<ClientConfig> = {}, server: Partial<ServerConfig> = {}, hooks: ServerHooks = {}, clock?: Clock) {
    this.addr = new Var(initial);
    const bound: BoundName = { kind: 'bound', id: Path.of('#', 'test', 'backend'), addr: this.addr, residual: Path.empty };
    this.client = new Client(bound, { ...CLIENT_DEFAULTS, ...client }, this.metrics, 'test', undefined, undefined, undefined, clock);
    this.server = new H2Server({ ...SERVER_DEFAULTS, ...server }, this, Logger.silent(), hooks);
  }

  async start(): Promise<this> {
    this.port = (await this.server.listen()).port;
    return this;
  }

  get target(): string {
    return `127.0.0.1:${this.port}`;
  }

  handleStream(stream: H2Stream, headers: HeaderMap): void {
    const call = new ProxyCall(stream, headers, this);
    const t = parseTimeout(headers['grpc-timeout']);
    if (t !== undefined) call.setDeadline(t);
    call.dispatch(this.client);
  }

  finished(call: ProxyCall): void {
    this.finishedCalls.push(call);
  }

  async close(): Promise<void> {
    this.client.close();
    await this.server.close();
  }
}
