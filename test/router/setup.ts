import { defaultBindingCacheConfig, defaultMetricSeriesConfig } from '../../src/config/load.js';
import { Var } from '../../src/util/var.js';
import { Path } from '../../src/dtab/path.js';
import type { Dtab } from '../../src/dtab/dtab.js';
import { parseDtab } from '../../src/dtab/parse.js';
import { NameInterpreter } from '../../src/dtab/interpreter.js';
import type { PrefixedNamer } from '../../src/namers/namer.js';
import { Router } from '../../src/router/router.js';
import type { RouterConfig } from '../../src/config/types.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { Logger } from '../../src/util/log.js';
import type { Clock } from '../../src/util/clock.js';
import { CLIENT_DEFAULTS, SERVER_DEFAULTS } from '../proxy/harness.js';
import { globalNamer } from '../../src/namers/global.js';
import { FakeNamer } from '../support/fake-namer.js';

export interface Harness {
  router: Router;
  /** Serves `/#/test/<name>`: `namer.serve(name, ports)` publishes its endpoints, `namer.pending(name)` keeps it unanswered. */
  namer: FakeNamer;
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

/** `clock`: the clients' connect timeouts and backoff (default the real clock). */
export async function startRouter(dtab: string, overrides: Partial<RouterConfig> = {}, clock?: Clock): Promise<Harness> {
  const namer = new FakeNamer(Path.of('#', 'test'), 'serve');
  const namers: PrefixedNamer[] = [{ prefix: Path.of('#', 'test'), kind: 'test', namer }];
  const interpreter = new NameInterpreter({ global: globalNamer(), namers });
  const dtabVar = new Var(parseDtab(dtab));
  const metrics = new Metrics({ processMetrics: false });
  const router = new Router(routerConfig({ dtab, ...overrides }), { interpreter, dtab: dtabVar, metrics, log: Logger.silent(), clock });
  await router.start();
  const port = router.boundPorts[0]!.port;
  return { router, namer, dtab: dtabVar, metrics, port, target: `127.0.0.1:${port}`, close: () => router.close() };
}
