import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Router } from '../src/router/router.js';
import { NameInterpreter } from '../src/dtab/interpreter.js';
import { parseDtab } from '../src/dtab/parse.js';
import { Path } from '../src/dtab/path.js';
import { Var } from '../src/util/var.js';
import { Metrics } from '../src/telemetry/metrics.js';
import { Logger } from '../src/util/log.js';
import { defaultClientConfig, defaultServerConfig, defaultBindingCacheConfig, defaultMetricSeriesConfig } from '../src/config/load.js';
import { globalNamer } from '../src/namers/global.js';
import { FsNamer } from '../src/namers/fs.js';
import { createNamer } from '../src/namers/registry.js';
import type { PrefixedNamer } from '../src/namers/namer.js';
import { startControlProcess } from './control-process.js';

/**
 * The router under test, in its own process: routes `/svc/bench.Echo` to the backends given on the
 * command line with default settings. By default through the `io.l5d.fs` namer, as issue 11's RSS
 * target asks ("with the fs namer"): a temp dir holding one service file `bench.Echo` with a
 * `127.0.0.1 <port>` line per backend, and the dtab `/svc => /#/io.l5d.fs` (the namer polls the file
 * every 500 ms, as in the product). With BENCH_ROUTER_NAMER=inet, the dtab names the backends itself
 * (`/$/inet/127.0.0.1/<port>`, a Union when there are several) and no namer is configured. With
 * BENCH_ROUTER_NAMER=xds, the router subscribes (`io.l5d.xds` under the same `/#/io.l5d.fs` prefix)
 * to a `kube-grpc-router control` process of its own that has the fs namer: the router's memory and
 * CPU are then those of a router fed by the control plane (issue 13), whose process is not counted.
 * Prints `listening <port>`; on SIGUSR2 prints the non-OK stream count so the runner can check
 * that every benchmarked call succeeded.
 *
 * With BENCH_TLS_CA, BENCH_TLS_CERT and BENCH_TLS_KEY set (the TLS row), both legs are TLS: the
 * server presents that certificate, and every client speaks TLS to the endpoints, trusting the CA
 * and checking the name `localhost`.
 *
 * Usage: node dist/bench/router-process.js <backendPort>...
 */
const ports = process.argv.slice(2).map(Number);
const namerMode = process.env['BENCH_ROUTER_NAMER'] ?? 'fs';
if (!['fs', 'inet', 'xds'].includes(namerMode)) throw new Error(`BENCH_ROUTER_NAMER: '${namerMode}' is not fs, inet or xds`);
const useFs = namerMode !== 'inet';
const fsDir = useFs ? mkdtempSync(join(tmpdir(), 'kgr-bench-fs-')) : undefined;
if (fsDir) writeFileSync(join(fsDir, 'bench.Echo'), ports.map((p) => `127.0.0.1 ${p}\n`).join(''));
const dtab = fsDir
  ? '/svc => /#/io.l5d.fs'
  : ports.length === 1
    ? `/svc/bench.Echo => /$/inet/127.0.0.1/${ports[0]}`
    : `/svc/bench.Echo => ${ports.map((p) => `/$/inet/127.0.0.1/${p}`).join(' & ')}`;
const log = Logger.create({ level: 'warn' });
const fsPrefix = Path.of('#', 'io.l5d.fs');
const metrics = new Metrics({ processMetrics: false });
const control = fsDir && namerMode === 'xds' ? await startControlProcess(fsDir) : undefined;
const fsNamer = fsDir && !control ? new FsNamer(fsPrefix, fsDir, log) : undefined;
const namers: PrefixedNamer[] = fsNamer ? [{ prefix: fsPrefix, kind: 'io.l5d.fs', namer: fsNamer }] : [];
if (control) namers.push(await createNamer({ kind: 'io.l5d.xds', prefix: fsPrefix.show(), servers: [control.address], idSegments: 1 } as never, { metrics, log }));
const [tlsCa, tlsCert, tlsKey] = [process.env['BENCH_TLS_CA'], process.env['BENCH_TLS_CERT'], process.env['BENCH_TLS_KEY']];
const tls = tlsCa && tlsCert && tlsKey ? { ca: tlsCa, cert: tlsCert, key: tlsKey } : undefined;
const router = new Router(
  {
    protocol: 'h2',
    label: 'bench',
    servers: [{ ...defaultServerConfig(), port: 0, ...(tls ? { tls: { certPath: tls.cert, keyPath: tls.key, requireClientAuth: false } } : {}) }],
    identifier: [{ kind: 'io.l5d.header.path', header: ':path', segments: 1 }],
    dstPrefix: '/svc',
    dtab,
    interpreter: { kind: 'default' },
    bindingTimeoutMs: 10_000,
    client: { ...defaultClientConfig(), ...(tls ? { tls: { commonName: 'localhost', trustCerts: [tls.ca], disableValidation: false } } : {}) },
    service: {},
    bindingCache: defaultBindingCacheConfig(),
    metricSeries: defaultMetricSeriesConfig(),
  },
  { interpreter: new NameInterpreter({ namers, global: globalNamer() }), dtab: new Var(parseDtab(dtab)), metrics, log },
);
await router.start();
process.stdout.write(`listening ${router.boundPorts[0]!.port}\n`);
process.on('SIGUSR2', async () => {
  const m = await metrics.requests.get();
  const byCode: Record<string, number> = {};
  for (const v of m.values) byCode[String(v.labels['grpc_code'])] = (byCode[String(v.labels['grpc_code'])] ?? 0) + v.value;
  // CANCELLED streams are the ones h2load and the ping-pong generator reset when their time is up.
  process.stdout.write(`streams ${Object.entries(byCode).map(([k, v]) => `${k}=${v}`).join(' ')}\n`);
});
process.on('SIGTERM', () => {
  void router.close().then(() => {
    fsNamer?.close();
    control?.stop();
    if (fsDir) rmSync(fsDir, { recursive: true, force: true });
    process.exit(0);
  });
});
