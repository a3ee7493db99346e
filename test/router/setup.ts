import { defaultBindingCacheConfig, defaultMetricSeriesConfig } from '../../src/config/load.js';
import { Var } from '../../src/util/var.js';
import { constant, ok, PENDING } from '../../src/util/activity.js';
import type { Addr, BoundName, Name } from '../../src/dtab/name.js';
import { leaf, type NameTree } from '../../src/dtab/nametree.js';
import { Path } from '../../src/dtab/path.js';
import type { Dtab } from '../../src/dtab/dtab.js';
import { parseDtab } from '../../src/dtab/parse.js';
import { NameInterpreter } from '../../src/dtab/interpreter.js';
import type { Namer, PrefixedNamer } from '../../src/namers/namer.js';
import type { Activity } from '../../src/util/activity.js';
import { Router } from '../../src/router/router.js';
import type { RouterConfig } from '../../src/config/types.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { Logger } from '../../src/util/log.js';
import { CLIENT_DEFAULTS, SERVER_DEFAULTS } from '../proxy/harness.js';
import { globalNamer } from '../../src/namers/global.js';

/**
 * A namer under `/#/test` whose names the test controls: `set(name, addr)` publishes an address set
 * (as discovery would), `pending(name)` keeps a name unanswered. Bound ids are `/#/test/<name>`.
 */
export class TestNamer implements Namer {
  private readonly addrs = new Map<string, Var<Addr>>();
  private readonly answers = new Map<string, Activity<NameTree<Name>>>();
  private readonly stuck = new Set<string>();

  addr(name: string): Var<Addr> {
    let v = this.addrs.get(name);
    if (!v) this.addrs.set(name, (v = new Var<Addr>({ type: 'pending' })));
    return v;
  }

  set(name: string, ports: number[]): void {
    this.addr(name).set({ type: 'bound', addrs: ports.map((port) => ({ host: '127.0.0.1', port, weight: 1, meta: {} })), meta: {} });
  }

  pending(name: string): void {
    this.stuck.add(name);
  }

  lookup(path: Path): Activity<NameTree<Name>> {
    const name = path.segments[0] ?? '';
    let a = this.answers.get(name);
    if (!a) {
      if (this.stuck.has(name)) a = constant<NameTree<Name>>(PENDING);
      else {
        const bound: BoundName = { kind: 'bound', id: Path.of('#', 'test', name), addr: this.addr(name), residual: path.drop(1) };
        a = constant<NameTree<Name>>(ok(leaf<Name>(bound)));
      }
      this.answers.set(name, a);
    }
    return a;
  }
}

export interface Harness {
  router: Router;
  namer: TestNamer;
  dtab: Var<Dtab>;
  metrics: Metrics;
  target: string;
  port: number;
  close(): Promise<void>;
}

export function routerConfig(overrides: Partial<RouterConfig> = {}): RouterConfig {
  return {
    protocol: 'h2',
    label: 'h2',
    servers: [{ ...SERVER_DEFAULTS }],
    identifier: [{ kind: 'io.l5d.header.path', header: ':path', segments: 1 }],
    dstPrefix: '/svc',
    dtab: '',
    interpreter: { kind: 'default' },
    bindingTimeoutMs: 10_000,
    client: { ...CLIENT_DEFAULTS },
    service: {},
    bindingCache: defaultBindingCacheConfig(),
    metricSeries: defaultMetricSeriesConfig(),
    ...overrides,
  };
}

export async function startRouter(dtab: string, overrides: Partial<RouterConfig> = {}): Promise<Harness> {
  const namer = new TestNamer();
  const namers: PrefixedNamer[] = [{ prefix: Path.of('#', 'test'), kind: 'test', namer }];
  const interpreter = new NameInterpreter({ global: globalNamer(), namers });
  const dtabVar = new Var(parseDtab(dtab));
  const metrics = new Metrics({ processMetrics: false });
  const router = new Router(routerConfig({ dtab, ...overrides }), { interpreter, dtab: dtabVar, metrics, log: Logger.silent() });
  await router.start();
  const port = router.boundPorts[0]!.port;
  return { router, namer, dtab: dtabVar, metrics, port, target: `127.0.0.1:${port}`, close: () => router.close() };
}
