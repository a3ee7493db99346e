import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { getHeapStatistics, writeHeapSnapshot } from 'node:v8';
import { KubeConnection } from '../src/namers/k8s/connection.js';
import { K8sNamer } from '../src/namers/k8s/k8s-namer.js';
import { Metrics } from '../src/telemetry/metrics.js';
import { Logger } from '../src/util/log.js';
import { Path } from '../src/dtab/path.js';
import type { Closable } from '../src/util/var.js';

/**
 * The child of bench/k8s-watches.ts: an `io.l5d.k8s` namer connected in-cluster (argv[2]
 * `in-cluster=<service account dir>`, the API in KUBERNETES_SERVICE_HOST/PORT) or to a plain-HTTP API
 * (`proxy=<port>` on 127.0.0.1) that holds names of made-up Services, as
 * a pod calling `/svc/<name>` makes the router do. Commands on stdin, one JSON answer per line:
 * `hold N` (names `default/grpc/s0`… up to N, observed until the process ends), `measure` (a full GC,
 * then memory figures), `snapshot FILE` (a heap snapshot).
 */
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('watch-holder needs node --expose-gc');
const [how, where] = (process.argv[2] ?? '').split('=');
const connection =
  how === 'proxy' ? KubeConnection.proxy('127.0.0.1', Number(where)) : await KubeConnection.resolve({ env: process.env, serviceAccountDir: where });
const namer = new K8sNamer({
  prefix: Path.of('#', 'io.l5d.k8s'),
  connection,
  metrics: new Metrics({ processMetrics: false }),
  log: Logger.silent(),
  maxWatches: 100_000,
  maxNames: 100_000,
  watchRate: { perSecond: 0, burst: 0 },
});
const held: Closable[] = [];

function measure(): unknown {
  gc!();
  gc!();
  const m = process.memoryUsage();
  const h = getHeapStatistics();
  const status = readFileSync('/proc/self/status', 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN) * 1024;
  const resources = new Map<string, number>();
  for (const r of process.getActiveResourcesInfo()) resources.set(r, (resources.get(r) ?? 0) + 1);
  return {
    watches: namer.openWatches,
    rss: m.rss,
    rssAnon: kb('RssAnon'),
    heapUsed: m.heapUsed,
    heapTotal: m.heapTotal,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
    mallocedMemory: h.malloced_memory,
    resources: Object.fromEntries(resources),
  };
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const [cmd, arg] = line.trim().split(/\s+/);
  if (cmd === 'hold') {
    for (let i = held.length; i < Number(arg); i++) held.push(namer.lookup(Path.of('default', 'grpc', `s${i}`)).observe(() => {}));
    console.log(JSON.stringify({ holding: held.length }));
  } else if (cmd === 'measure') {
    console.log(JSON.stringify(measure()));
  } else if (cmd === 'snapshot') {
    gc!();
    console.log(JSON.stringify({ snapshot: writeHeapSnapshot(arg) }));
  }
});
lines.on('close', () => {
  for (const h of held) h.close();
  namer.close();
  process.exit(0);
});
