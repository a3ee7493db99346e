import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, isAbsolute, resolve } from 'node:path';
import type {
  AdminConfig,
  AdminProbesConfig,
  ClientConfig,
  Config,
  FailureAccrualConfig,
  EndpointWindowsConfig,
  GrpclbConfig,
  IdentifierConfig,
  InterpreterConfig,
  LoadBalancerConfig,
  NamerConfig,
  RouterConfig,
  ServerConfig,
  ServerTlsConfig,
  ClientTlsConfig,
  ClientStaticConfig,
  ServiceConfig,
  BindingCacheConfig,
  MetricSeriesConfig,
} from './types.js';
import { ConfigError, type ConfigIssue } from './errors.js';
import { parseDuration } from './duration.js';
import { checkDtab } from './dtab-check.js';
import { lineColumnToOffset, valueOffsetToSource } from './dtab-position.js';
import { isMap, isSeq } from 'yaml';
import { Field, YamlSource, type Fields, type IgnoredKey } from './yaml-reader.js';
import { readKindBlock, type KindContext } from './kind.js';
import { namerKinds } from '../namers/registry.js';
import { defaultIdentifiers, identifierKinds } from '../identify/registry.js';
import { balancerKinds, defaultLoadBalancer } from '../balancer/balancer-registry.js';
import { accrualKinds, defaultFailureAccrual } from '../balancer/accrual-registry.js';
import { EXPIRY_WARNING_DAYS, certificateInfo, readTlsFile, secureContextOf } from '../tls/material.js';
import { parseClientPrefix } from '../tls/client-tls.js';
import { MAX_TIMER_MS } from '../util/clock.js';
import { defaultEndpointWindowsConfig, perClientShare } from './endpoint-windows.js';
import { defaultMetricSeriesConfig } from './metric-series.js';

export { defaultMetricSeriesConfig };

// Namers, identifiers, load balancers and failure accrual are registered kinds (each room's
// registry); the loader reads a block's `kind:` against its registry and the rest with that kind's reader.
const INTERPRETER_KINDS = ['default', 'io.l5d.fs'] as const;

const MAX_INT = Number.MAX_SAFE_INTEGER;
/** A DNS name: labels of letters, digits and `-`, not starting or ending with `-`, at least one letter. */
const HOSTNAME = /^(?=.*[A-Za-z])(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*$/;
/** Linkerd's label characters; a prefix or dstPrefix is a path of them. */
const PATH = /^(\/[A-Za-z0-9_:.#$%-]+)+$/;

/**
 * A router's `client` block with nothing set: the one place these defaults live (tests and benches
 * that build router configs by hand start from it). A fresh object each call, safe to modify.
 */
export function defaultClientConfig(): ClientConfig {
  return {
    loadBalancer: defaultLoadBalancer(),
    failureAccrual: defaultFailureAccrual(),
    maxAttempts: 3,
    keepAliveIntervalMs: 0,
    keepAliveTimeoutMs: 20_000,
    connectTimeoutMs: 3000,
    // An endpoint allowing L streams per connection takes 256 x L calls before streams wait: more than
    // maxConcurrentRequests for any L over 78 (nginx allows 128, HAProxy 100), while an endpoint
    // allowing one stream per connection (~30 KB per connection and call) costs at most ~8 MB.
    maxConnectionsPerEndpoint: 256,
    // One connection carries what the endpoint allows, as in grpc-go and Envoy: fewer sockets, and
    // writes batched over more calls. An endpoint that serves each connection on one thread (Node.js,
    // Python) answers a burst on it one call after another; spreading the calls shortens its tail for
    // router CPU (4 per connection, a node:http2 endpoint at 3,000 calls/s: p99 halved, +30 % CPU).
    maxStreamsPerConnection: 0,
    // nginx's grpc_send_timeout. Below HTTP/2's windows: gRPC servers read their sockets whatever
    // their streams' windows say, so a minute of none read is a process that stopped.
    sendTimeoutMs: 60_000,
    // Under the servers that count resets per connection: nghttp2 (Node.js, nghttpx) ends one past
    // 1000 refilled at 33 a second, Envoy aborts one where 250 of its first 500 streams were reset
    // unanswered. A retired connection's streams may still be cancelled: 800 more fit under nghttp2's.
    maxResetsPerConnection: 200,
    resetsRefillPerSecond: 33,
  };
}

/** A router's `bindingCache` with every key at its default. A fresh object each call. */
export function defaultBindingCacheConfig(): BindingCacheConfig {
  return { paths: 1000, clients: 1000, clientsPerClient: perClientClients(1000), idleTtlMs: 600_000, transientIdleTtlMs: 10_000 };
}

/** A pod's share of the bound clients when only `clients` is set: four pods are needed to hold every one. */
export function perClientClients(clients: number): number {
  return Math.max(1, Math.floor(clients / 4));
}


/** A `servers[]` entry with only what a config must say left at its default (port 4140). A fresh object each call. */
export function defaultServerConfig(): ServerConfig {
  return {
    ip: '127.0.0.1',
    port: 4140,
    clearContext: false,
    maxConcurrentStreamsPerConnection: 1000,
    // Each call costs ~1.2 KB idle and more in flight, and a pod may open maxConnections x 1000
    // streams: this bounds what all of them can make the router hold (20,000 is ~25-60 MB), twice
    // the 10,000 long-lived streams the bench holds as a node's normal load.
    maxConcurrentRequests: 20_000,
    // A quarter of it per pod: four pods are needed to take every slot. A pod with more calls in
    // flight than that through its node's router is rare; the refusal names the key.
    maxConcurrentRequestsPerClient: 5_000,
    maxCallDepth: 10,
    maxHeaderListBytes: 16384,
    // A per-node router's clients are pods on the same node: reconnecting (h2c, no TLS) costs well
    // under a millisecond, while every idle connection holds a descriptor and its HPACK tables.
    // 5 min (nginx's http2 idle is 3 min, Envoy's 1 h suits expensive edge TLS) keeps a client that
    // calls every few minutes on one connection and lets abandoned ones go.
    idleTimeoutMs: 300_000,
    // Any real client sends its preface and SETTINGS in its first write; 10 s allows a slow start.
    prefaceTimeoutMs: 10_000,
    // A silent peer may be gone (a half-open TCP connection holds a descriptor for good). Clients
    // are local, so 5 s for an ack is generous, and the bound on such a connection is 15 s.
    keepAliveIntervalMs: 10_000,
    keepAliveTimeoutMs: 5000,
    // A client not reading what it asked for holds a stream (and its window's bytes) with no end in
    // sight; memory is bounded by windows, this bounds the time. nginx's send_timeout is 60 s and
    // Envoy's stream_idle_timeout 5 min: gRPC streams a client pauses on purpose get Envoy's margin.
    sendTimeoutMs: 300_000,
    // Past maxBufferedBytes the process's memory is at stake and unread answers hold the endpoint
    // connections' windows every pod shares: a client that takes nothing for 10 s loses that call.
    sendTimeoutUnderPressureMs: 10_000,
    // Abuse limits (RFC 9113 §10.5). A real gRPC client sends one HEADERS frame (CONTINUATION only
    // past 16 KiB of fields), a few PINGs a minute and SETTINGS once; cancels come in bursts (a
    // client shutting down), so resets are allowed far above any cancel storm a sane client makes.
    maxContinuationFrames: 32,
    maxResetStreamsPerSecond: 1000,
    maxPingsPerSecond: 100,
    maxSettingsPerSecond: 100,
    maxEmptyFramesPerSecond: 1000,
    // Bytes a client may send ahead of the router's forwarding them (its connection window), and the
    // soft bound on bytes queued towards it: what one connection can make the router hold (~1.3 MB
    // each, sending to an endpoint that does not read). 256 KiB cut that to a quarter but halved
    // the bench's 64 KiB ping-pong (4 streams of 64 KiB per connection fill such a window).
    maxBufferedBytesPerConnection: 1 << 20,
    // What all clients together may make the router hold, requests not taken by endpoints and
    // answers not taken by clients: windows and maxBufferedBytesPerConnection bound one connection,
    // not the node's pods together (each pod's 64 connections could hold ~85 MB). Each stopped
    // connection adds up to ~80 KiB past it, and the process pays ~1.3x what it counts (socket
    // reads kept whole), so the DaemonSet's 256 MiB leaves room for ~600 such connections beside
    // the ~60-90 MB the router itself takes. Endpoints' answers have their own 32 MiB (ReceiveBudget).
    maxBufferedBytes: 32 << 20,
    // One pod's part of it: one pod's connections sending to an endpoint that does not read (64 of
    // 1 MiB) spent all of it, and every other pod's large requests were then read 16 KiB at a time
    // (a 32 MiB upload ran 2-7x slower). A quarter, as growthBytesPerClient: a stopped pod holds
    // ~13 MB at most (8 MiB, and 80 KiB a connection), so three at least are needed to spend it.
    maxBufferedBytesPerClient: perClientShare(32 << 20),
    // Headers calls in flight keep for retries. A gRPC request's list is ~300-600 bytes, so a pod's
    // 8 MiB is some 15,000 calls (the bench's 10,000 idle streams fit), yet only 512 calls of the
    // largest lists (maxHeaderListBytes): 20,000 such calls held 340 MB of one router's heap.
    maxHeaderBytesInFlight: 32 << 20,
    maxHeaderBytesInFlightPerClient: 8 << 20,
    // Each connection holds a descriptor, two HPACK tables and its windows' worth of bytes; a node's
    // pods need far fewer (gRPC clients keep one or a few each).
    maxConnections: 10_000,
    // ~11 KB each when idle and ~1.3 MB when sending to an endpoint that does not read: one pod may
    // hold 64 connections (gRPC clients keep one per channel), ~85 MB at worst, never all the slots.
    maxConnectionsPerClient: 64,
  };
}

export interface LoadedConfig {
  config: Config;
  /** Keys accepted for Linkerd compatibility and ignored; the CLI logs them once at start. */
  ignored: IgnoredKey[];
  /** Valid but worth a look (a certificate expiring within 14 days); the CLI logs them at start. */
  warnings?: ConfigWarning[];
}

/** `routers[0].servers[0].tls.certPath: certificate … expires in 9 days (config.yaml:7:17)`, logged, not fatal. */
export interface ConfigWarning {
  path: string;
  message: string;
  file: string;
  line: number;
  column: number;
}

export interface ParseOptions {
  /** File name used in messages. Default `config.yaml`. */
  source?: string;
  /** Relative `dtabFile`, `rootDir` and `h2AccessLog` paths resolve against this. Default: the file's directory, else cwd. */
  baseDir?: string;
}

/** Read and validate a config file; throws ConfigError listing every issue. */
export function loadConfigFile(file: string): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    throw new ConfigError([{ path: '', message: `cannot read config: ${reason}`, file, line: 1, column: 1 }]);
  }
  return parseConfig(text, { source: file, baseDir: dirname(resolve(file)) });
}

/** Validate config text (YAML, Linkerd 1 keys) into a Config with every default filled. */
export function parseConfig(text: string, options: ParseOptions = {}): LoadedConfig {
  const src = new YamlSource(options.source ?? 'config.yaml', text);
  const reader = new ConfigReader(src, options.baseDir ?? (options.source ? dirname(resolve(options.source)) : process.cwd()));
  const config = reader.config();
  if (src.issues.length > 0 || !config) throw new ConfigError(sortIssues(src.issues));
  return { config, ignored: src.ignored, warnings: reader.warnings };
}

function sortIssues(issues: ConfigIssue[]): ConfigIssue[] {
  return [...issues].sort((a, b) => a.line - b.line || a.column - b.column);
}

const IGNORED_TOP = {
  telemetry: 'metrics are always served in Prometheus form at /admin/metrics/prometheus',
  usage: 'no usage data is ever reported',
};
const IGNORED_EXPERIMENTAL = { experimental: 'every supported feature is enabled without it' };

class ConfigReader {
  readonly warnings: ConfigWarning[] = [];
  /** What kinds' config readers get from the loader. */
  private readonly kindContext: KindContext = { path: (p) => this.path(p) };

  constructor(
    private readonly src: YamlSource,
    private readonly baseDir: string,
  ) {}

  config(): Config | undefined {
    const root = this.src.root;
    if (!root.present) {
      if (this.src.issues.length === 0) root.fail('the config is empty (expected a mapping with at least "routers")');
      return undefined;
    }
    const top = root.object(['admin', 'namers', 'routers', 'shutdownDelay', 'shutdownGrace', 'grpclb', 'endpointWindows', 'xds' /* read by `control` mode: src/xds/config.ts */], IGNORED_TOP);
    if (!top) return undefined;
    const admin = this.admin(top.get('admin'));
    const namers = (top.get('namers').list() ?? []).map((f) => this.namer(f));
    const routersField = top.get('routers').required('a list of routers');
    const routers = (routersField?.list() ?? []).map((f) => this.router(f));
    if (isSeq(routersField?.node) && routers.length === 0) routersField.fail('expected at least one router');
    const shutdownDelayMs = this.duration(top.get('shutdownDelay')) ?? 5000;
    const shutdownGraceMs = this.duration(top.get('shutdownGrace')) ?? 25000;
    this.checkUnique(namers.map((n, i) => [n?.prefix, top.get('namers').list()?.[i]] as const), 'prefix', 'namer prefix');
    const grpclb = this.grpclb(top.get('grpclb'), routers);
    const endpointWindows = this.endpointWindows(top.get('endpointWindows'));
    this.checkPorts(admin, routers, top, grpclb);
    if (this.src.issues.length > 0) return undefined;
    const config: Config = { admin: admin!, namers: namers as NamerConfig[], routers: routers as RouterConfig[], shutdownDelayMs, shutdownGraceMs, endpointWindows };
    if (grpclb) config.grpclb = grpclb;
    return config;
  }

  /** `endpointWindows: {…}`: the process-wide budgets between clients and endpoints, defaults filled. */
  private endpointWindows(field: Field): EndpointWindowsConfig {
    const d = defaultEndpointWindowsConfig();
    if (!field.present) return d;
    const f = field.object(['earlyCreditBytes', 'growthBytes', 'growthBytesPerClient', 'connectionBytes', 'queuedRequestBytes', 'queuedRequestBytesPerClient', 'replayBytes', 'replayBytesPerClient']);
    if (!f) return d;
    const [growthBytes, growthBytesPerClient] = this.sharedBudget(f, 'growthBytes', d.growthBytes);
    const [queuedRequestBytes, queuedRequestBytesPerClient] = this.sharedBudget(f, 'queuedRequestBytes', d.queuedRequestBytes);
    const [replayBytes, replayBytesPerClient] = this.sharedBudget(f, 'replayBytes', d.replayBytes);
    return {
      earlyCreditBytes: f.get('earlyCreditBytes').int(0, 2 ** 31 - 1) ?? d.earlyCreditBytes,
      growthBytes,
      growthBytesPerClient,
      connectionBytes: f.get('connectionBytes').int(0, 2 ** 31 - 1) ?? d.connectionBytes,
      queuedRequestBytes,
      queuedRequestBytesPerClient,
      replayBytes,
      replayBytesPerClient,
    };
  }

  /** A process budget `key` (default `byDefault`) and its `<key>PerClient` share: at most the budget, by default a quarter of it. */
  private sharedBudget(f: Fields, key: string, byDefault: number, min = 0): [bytes: number, perClient: number] {
    const bytes = f.get(key).int(min, 2 ** 31 - 1) ?? byDefault;
    const perClientField = f.get(`${key}PerClient`);
    const perClient = perClientField.int(0, 2 ** 31 - 1);
    if (perClient !== undefined && perClient > bytes) {
      perClientField.fail(`expected at most ${key} (${bytes}), got ${perClient}`);
      return [bytes, perClientShare(bytes)];
    }
    return [bytes, perClient ?? perClientShare(bytes)];
  }

  /** `grpclb: {ip, port, …}`: the grpclb balancer, binding names through one router's dtab. */
  private grpclb(field: Field, routers: (RouterConfig | undefined)[]): GrpclbConfig | undefined {
    if (!field.present) return undefined;
    const f = field.object(['ip', 'port', 'router', 'clientStatsIntervalSecs', 'maxNames', 'maxStreams', 'maxStreamsPerClient', 'maxConnections', 'maxConnectionsPerClient']);
    if (!f) return undefined;
    const labels = routers.flatMap((r) => (r ? [r.label] : []));
    const routerField = f.get('router');
    let router = routerField.string('a router label');
    if (router !== undefined && !labels.includes(router)) {
      routerField.fail(`no router is labelled ${JSON.stringify(router)} (routers: ${labels.map((l) => JSON.stringify(l)).join(', ')})`);
      router = undefined;
    }
    return {
      ip: this.ip(f.get('ip')) ?? '127.0.0.1',
      port: f.get('port').int(1, 65535) ?? 4150,
      router: router ?? labels[0] ?? '',
      clientStatsIntervalMs: (f.get('clientStatsIntervalSecs').int(0, 86400) ?? 10) * 1000,
      maxNames: f.get('maxNames').int(1, 1_000_000) ?? 1000,
      maxStreams: f.get('maxStreams').int(1, 10_000_000) ?? 10_000,
      // A pod's gRPC channels keep one balancer stream each; a hundred is many channels.
      maxStreamsPerClient: f.get('maxStreamsPerClient').int(1, 10_000_000) ?? 100,
      // A channel keeps one balancer connection for its stream: a node's pods (110 by default)
      // with a dozen channels each, at ~12 KB a connection (24 MB in all), and a pod's hundred
      // channels (as maxStreamsPerClient).
      maxConnections: f.get('maxConnections').int(1, 1_000_000) ?? 2000,
      maxConnectionsPerClient: f.get('maxConnectionsPerClient').int(1, 1_000_000) ?? 100,
    };
  }

  private admin(field: Field): AdminConfig | undefined {
    const defaults: AdminConfig = { ip: '127.0.0.1', port: 9990, controlEnabled: false, maxConnections: 1000, maxConnectionsPerClient: 16 };
    if (!field.present) return defaults;
    const f = field.object(['ip', 'port', 'probes', 'controlEnabled', 'security', 'maxConnections', 'maxConnectionsPerClient', 'maxDelegationNodes', 'maxDelegationBytes', 'maxDelegations', 'maxDelegationsPerClient'], {
      shutdownGraceMs: 'the admin server stops with the process (see shutdownGrace)',
      workerThreads: 'Node.js serves the admin API on its event loop',
    });
    if (!f) return undefined;
    let controlEnabled = f.get('controlEnabled').bool();
    const security = f.get('security').object(['controlEnabled'], {
      uiEnabled: 'the dashboard is always on',
      diagnosticsEnabled: 'diagnostics are always on',
    });
    controlEnabled ??= security?.get('controlEnabled').bool();
    const probes = this.adminProbes(f.get('probes'));
    return {
      ip: this.ip(f.get('ip')) ?? defaults.ip,
      port: f.get('port').int(1, 65535) ?? defaults.port,
      ...(probes ? { probes } : {}),
      controlEnabled: controlEnabled ?? defaults.controlEnabled,
      maxConnections: f.get('maxConnections').int(1, 100_000) ?? defaults.maxConnections,
      maxConnectionsPerClient: f.get('maxConnectionsPerClient').int(1, 100_000) ?? defaults.maxConnectionsPerClient,
      // The delegator's bounds, given only when set (the admin server has their defaults).
      ...optional('maxDelegationNodes', f.get('maxDelegationNodes').int(1, 1_000_000)),
      ...optional('maxDelegationBytes', f.get('maxDelegationBytes').int(1024, 1 << 30)),
      ...optional('maxDelegations', f.get('maxDelegations').int(1, 100_000)),
      ...optional('maxDelegationsPerClient', f.get('maxDelegationsPerClient').int(1, 100_000)),
    };
  }

  /** `admin.probes: {ip, port, metrics}`: the probes-only listener, when given. */
  private adminProbes(field: Field): AdminProbesConfig | undefined {
    const f = field.object(['ip', 'port', 'metrics']);
    if (!f) return undefined;
    return {
      // The kubelet probes the pod IP; nothing else is served here.
      ip: this.ip(f.get('ip')) ?? '0.0.0.0',
      port: f.get('port').int(1, 65535) ?? 9991,
      metrics: f.get('metrics').bool() ?? false,
    };
  }

  private namer(field: Field): NamerConfig | undefined {
    const shape = 'a namer (a mapping with "kind")';
    if (!field.present) return field.expected(shape);
    const readCommon = (f: Fields, kind: string) => ({ prefix: this.namerPrefix(f.get('prefix'), kind) ?? '' });
    return readKindBlock(field, namerKinds, { kindWord: 'a namer kind', common: ['kind', 'prefix'], readCommon, ignored: IGNORED_EXPERIMENTAL, shape }, this.kindContext);
  }

  /** Linkerd writes `prefix: /io.l5d.k8s` and the namer answers `/#/io.l5d.k8s`; we accept either form. */
  private namerPrefix(field: Field, kind: string): string | undefined {
    const text = field.string('a path such as /io.l5d.k8s');
    if (text === undefined) return field.present ? undefined : `/#/${kind}`;
    if (!PATH.test(text)) return field.expected('a path such as /io.l5d.k8s (segments of letters, digits and _:.#$%-)');
    return text.startsWith('/#/') ? text : `/#${text}`;
  }

  private router(field: Field): RouterConfig | undefined {
    if (!field.present) return field.expected('a router (a mapping with "protocol" and "servers")');
    const f = field.object(
      ['protocol', 'label', 'servers', 'identifier', 'dstPrefix', 'dtab', 'interpreter', 'bindingTimeoutMs', 'client', 'service', 'h2AccessLog', 'bindingCache', 'metricSeries'],
      {
        ...IGNORED_EXPERIMENTAL,
        originator: 'stats are not deduplicated across linkers',
        tracePropagator: 'tracing headers pass through unchanged',
        h2AccessLogRollPolicy: 'rotate the access log with an external tool',
        h2AccessLogAppend: 'the access log is always appended to',
        h2AccessLogRotateCount: 'rotate the access log with an external tool',
      },
    );
    if (!f) return undefined;
    const protocol = f.get('protocol').required('"h2"');
    if (protocol) {
      const p = protocol.string();
      if (p !== undefined && p !== 'h2') protocol.fail(`expected "h2", got ${JSON.stringify(p)} (only HTTP/2 gRPC routers are supported)`);
    }
    const servers = f.get('servers').required('a list of servers');
    const serverList = (servers?.list() ?? []).map((s) => this.server(s));
    if (isSeq(servers?.node) && serverList.length === 0) servers.fail('expected at least one server');
    const identifiers = f.get('identifier').listOrOne()?.map((i) => this.identifier(i));
    const dstPrefix = f.get('dstPrefix').string('a path such as /svc');
    if (dstPrefix !== undefined && !PATH.test(dstPrefix)) f.get('dstPrefix').expected('a path such as /svc');
    const dtabField = f.get('dtab');
    const dtab = dtabField.string('a dtab (text such as "/svc => /#/io.l5d.k8s/default/grpc")') ?? '';
    if (dtabField.present && dtab !== '') this.checkRouterDtab(dtabField, dtab);
    const router: RouterConfig = {
      protocol: 'h2',
      label: f.get('label').string() ?? 'h2',
      servers: serverList as ServerConfig[],
      identifier: (identifiers as IdentifierConfig[] | undefined) ?? defaultIdentifiers(),
      dstPrefix: dstPrefix ?? '/svc',
      dtab,
      interpreter: this.interpreter(f.get('interpreter')) ?? { kind: 'default' },
      bindingTimeoutMs: f.get('bindingTimeoutMs').int(1, MAX_INT) ?? 10000,
      client: this.client(f.get('client')),
      service: this.service(f.get('service')),
      bindingCache: this.bindingCache(f.get('bindingCache')),
      metricSeries: this.metricSeries(f.get('metricSeries')),
    };
    const accessLog = f.get('h2AccessLog').string('a file path or "-" for stdout');
    if (accessLog !== undefined) router.h2AccessLog = accessLog === '-' ? '-' : this.path(accessLog);
    return router;
  }

  private checkRouterDtab(field: Field, dtab: string): void {
    const problem = checkDtab(dtab, this.src.file);
    if (!problem) return;
    const node = field.node!;
    const [start, end] = [node.range![0], node.range![1]];
    const offset = valueOffsetToSource(this.src.text, start, end, dtab, lineColumnToOffset(dtab, problem.line, problem.column));
    this.src.report(field.path, offset, `invalid dtab: ${problem.message}`);
  }

  private server(field: Field): ServerConfig | undefined {
    if (!field.present) return field.expected('a server (a mapping with "port")');
    const f = field.object(
      [
        'ip',
        'port',
        'clearContext',
        'maxConcurrentStreamsPerConnection',
        'maxConcurrentRequests',
        'maxConcurrentRequestsPerClient',
        'maxCallDepth',
        'maxHeaderListBytes',
        'idleTimeoutMs',
        'prefaceTimeoutMs',
        'keepAliveIntervalMs',
        'keepAliveTimeoutMs',
        'sendTimeoutMs',
        'sendTimeoutUnderPressureMs',
        'maxContinuationFrames',
        'maxResetStreamsPerSecond',
        'maxPingsPerSecond',
        'maxSettingsPerSecond',
        'maxEmptyFramesPerSecond',
        'maxBufferedBytesPerConnection',
        'maxBufferedBytes',
        'maxBufferedBytesPerClient',
        'maxHeaderBytesInFlight',
        'maxHeaderBytesInFlightPerClient',
        'maxConnections',
        'maxConnectionsPerClient',
        'tls',
      ],
      {
        initialStreamWindowBytes: 'the stream window follows maxBufferedBytesPerConnection (at most 1 MiB)',
        maxFrameBytes: 'RFC 9113 default frames (16 KiB) are used',
        headerTableBytes: 'the RFC 9113 default table (4 KiB) is used',
        windowUpdateRatio: 'windows are returned at half their size',
        socketOptions: 'Node.js socket defaults apply',
        addForwardedHeader: 'no Forwarded header is added',
      },
    );
    if (!f) return undefined;
    const d = defaultServerConfig();
    const tls = this.serverTls(f.get('tls'));
    // Below 1 MiB one connection's window could hold it all, and fair shares would mean little.
    const [maxBufferedBytes, maxBufferedBytesPerClient] = this.sharedBudget(f, 'maxBufferedBytes', d.maxBufferedBytes, 1 << 20);
    const server: ServerConfig = {
      ip: this.ip(f.get('ip')) ?? d.ip,
      port: f.get('port').int(1, 65535) ?? d.port,
      clearContext: f.get('clearContext').bool() ?? d.clearContext,
      maxConcurrentStreamsPerConnection: f.get('maxConcurrentStreamsPerConnection').int(1, 2 ** 31 - 1) ?? d.maxConcurrentStreamsPerConnection,
      maxConcurrentRequests: f.get('maxConcurrentRequests').int(1, 2 ** 31 - 1) ?? d.maxConcurrentRequests,
      maxConcurrentRequestsPerClient: f.get('maxConcurrentRequestsPerClient').int(1, 2 ** 31 - 1) ?? d.maxConcurrentRequestsPerClient,
      maxCallDepth: f.get('maxCallDepth').int(1, 1000) ?? d.maxCallDepth,
      maxHeaderListBytes: f.get('maxHeaderListBytes').int(1024, 2 ** 31 - 1) ?? d.maxHeaderListBytes,
      idleTimeoutMs: f.get('idleTimeoutMs').int(0, MAX_TIMER_MS) ?? d.idleTimeoutMs,
      prefaceTimeoutMs: f.get('prefaceTimeoutMs').int(0, MAX_TIMER_MS) ?? d.prefaceTimeoutMs,
      keepAliveIntervalMs: f.get('keepAliveIntervalMs').int(0, MAX_TIMER_MS) ?? d.keepAliveIntervalMs,
      keepAliveTimeoutMs: f.get('keepAliveTimeoutMs').int(1, MAX_TIMER_MS) ?? d.keepAliveTimeoutMs,
      sendTimeoutMs: f.get('sendTimeoutMs').int(0, MAX_TIMER_MS) ?? d.sendTimeoutMs,
      sendTimeoutUnderPressureMs: f.get('sendTimeoutUnderPressureMs').int(0, MAX_TIMER_MS) ?? d.sendTimeoutUnderPressureMs,
      maxContinuationFrames: f.get('maxContinuationFrames').int(0, 100_000) ?? d.maxContinuationFrames,
      maxResetStreamsPerSecond: f.get('maxResetStreamsPerSecond').int(1, 2 ** 31 - 1) ?? d.maxResetStreamsPerSecond,
      maxPingsPerSecond: f.get('maxPingsPerSecond').int(1, 2 ** 31 - 1) ?? d.maxPingsPerSecond,
      maxSettingsPerSecond: f.get('maxSettingsPerSecond').int(1, 2 ** 31 - 1) ?? d.maxSettingsPerSecond,
      maxEmptyFramesPerSecond: f.get('maxEmptyFramesPerSecond').int(1, 2 ** 31 - 1) ?? d.maxEmptyFramesPerSecond,
      // Below 64 KiB the router could not grant even RFC 9113's initial connection window.
      maxBufferedBytesPerConnection: f.get('maxBufferedBytesPerConnection').int(65_535, 2 ** 31 - 1) ?? d.maxBufferedBytesPerConnection,
      maxBufferedBytes,
      maxBufferedBytesPerClient,
      maxHeaderBytesInFlight: f.get('maxHeaderBytesInFlight').int(1024, 2 ** 31 - 1) ?? d.maxHeaderBytesInFlight,
      maxHeaderBytesInFlightPerClient: f.get('maxHeaderBytesInFlightPerClient').int(1024, 2 ** 31 - 1) ?? d.maxHeaderBytesInFlightPerClient,
      maxConnections: f.get('maxConnections').int(1, 2 ** 31 - 1) ?? d.maxConnections,
      maxConnectionsPerClient: f.get('maxConnectionsPerClient').int(1, 2 ** 31 - 1) ?? d.maxConnectionsPerClient,
    };
    if (tls) server.tls = tls;
    return server;
  }

  /** Linkerd 1's server `tls`: every file is read now, so a missing one fails the load, not the first handshake. */
  private serverTls(field: Field): ServerTlsConfig | undefined {
    const f = field.object(['certPath', 'keyPath', 'caCertPath', 'requireClientAuth'], {
      ciphers: "Node.js's default cipher list is used",
      protocols: 'TLS 1.2 and 1.3 are offered (Node.js defaults)',
    });
    if (!f) return undefined;
    const cert = this.certFile(f.get('certPath').required('the path of a PEM certificate (chain)'));
    const key = this.tlsFile(f.get('keyPath').required('the path of a PEM private key'));
    const caField = f.get('caCertPath');
    const ca = caField.present ? this.certFile(caField) : undefined;
    const requireClientAuth = f.get('requireClientAuth').bool() ?? false;
    if (requireClientAuth && !caField.present) f.get('requireClientAuth').fail('requireClientAuth needs caCertPath (the CA that client certificates must chain to)');
    if (cert && key) this.checkPair(cert.data, key, f.get('keyPath'));
    if (!cert || !key) return undefined;
    const out: ServerTlsConfig = { certPath: cert.path, keyPath: key.path, requireClientAuth };
    if (ca) out.caCertPath = ca.path;
    return out;
  }

  /** Linkerd 1's client `tls`; `variables`: the `{names}` its prefix captures (none for io.l5d.global). */
  private clientTls(field: Field, variables: readonly string[]): ClientTlsConfig | undefined {
    const f = field.object(['commonName', 'trustCerts', 'clientAuth', 'disableValidation'], {
      protocols: 'TLS 1.2 and 1.3 are offered (Node.js defaults)',
      trustCertsBundle: 'list the bundle under trustCerts (a file may hold several certificates)',
    });
    if (!f) return undefined;
    const out: ClientTlsConfig = { trustCerts: [], disableValidation: f.get('disableValidation').bool() ?? false };
    const cnField = f.get('commonName');
    const cn = cnField.string('a DNS name, optionally with {variables} of the prefix');
    if (cn !== undefined) {
      for (const m of cn.matchAll(/\{([^}]*)\}/g)) {
        if (!variables.includes(m[1]!)) {
          cnField.fail(variables.length === 0 ? `{${m[1]}} needs a prefix that names it (client kind io.l5d.static)` : `{${m[1]}} is not a variable of the prefix (it has ${variables.map((v) => `{${v}}`).join(', ') || 'none'})`);
        }
      }
      out.commonName = cn;
    }
    for (const item of f.get('trustCerts').list() ?? []) {
      const ca = this.certFile(item.required('the path of a PEM CA certificate'));
      if (ca) out.trustCerts.push(ca.path);
    }
    const auth = f.get('clientAuth').object(['certPath', 'keyPath']);
    if (auth) {
      const cert = this.certFile(auth.get('certPath').required('the path of a PEM certificate'));
      const key = this.tlsFile(auth.get('keyPath').required('the path of a PEM private key'));
      if (cert && key) {
        this.checkPair(cert.data, key, auth.get('keyPath'));
        out.clientAuth = { certPath: cert.path, keyPath: key.path };
      }
    }
    return out;
  }

  /** A TLS file named by `field`, read now: a missing or unreadable one is a config error at the key. */
  private tlsFile(field: Field | undefined): { path: string; data: Buffer } | undefined {
    const text = field?.string('a file path');
    if (text === undefined || !field) return undefined;
    const path = this.path(text);
    try {
      return { path, data: readTlsFile(path) };
    } catch (err) {
      return field.fail((err as Error).message);
    }
  }

  /** A PEM certificate file: readable, a certificate, and warned about when it expires within 14 days. */
  private certFile(field: Field | undefined): { path: string; data: Buffer } | undefined {
    const file = this.tlsFile(field);
    if (!file || !field) return undefined;
    try {
      const info = certificateInfo(file.data, file.path, field.path);
      if (info.daysLeft < EXPIRY_WARNING_DAYS) {
        const message = info.daysLeft < 0 ? `certificate ${info.subject} in ${file.path} expired on ${info.notAfter}` : `certificate ${info.subject} in ${file.path} expires in ${info.daysLeft} days (${info.notAfter})`;
        this.warnings.push({ path: field.path, message, file: this.src.file, ...this.src.position(field.offset) });
      }
    } catch (err) {
      return field.fail((err as Error).message);
    }
    return file;
  }

  private checkPair(cert: Buffer, key: { path: string; data: Buffer }, keyField: Field): void {
    try {
      secureContextOf({ cert, key: key.data });
    } catch (err) {
      keyField.fail(`${key.path}: ${(err as Error).message}`);
    }
  }

  private identifier(field: Field): IdentifierConfig | undefined {
    if (!field.present) return field.expected('an identifier (a mapping with "kind")');
    return readKindBlock(field, identifierKinds, { kindWord: 'an identifier kind', common: ['kind'] }, this.kindContext);
  }

  private interpreter(field: Field): InterpreterConfig | undefined {
    const f = field.object(['kind', 'dtabFile']);
    if (!f) return undefined;
    const kind = f.get('kind').required('an interpreter kind')?.oneOf(INTERPRETER_KINDS);
    if (kind === 'io.l5d.fs') {
      const file = f.get('dtabFile').required('the path of a dtab file')?.string('a file path');
      return file === undefined ? undefined : { kind, dtabFile: this.path(file) };
    }
    if (kind === 'default' && f.has('dtabFile')) f.get('dtabFile').fail('"dtabFile" needs interpreter kind "io.l5d.fs"');
    return kind ? { kind: 'default' } : undefined;
  }

  private client(field: Field): ClientConfig {
    const defaults = defaultClientConfig();
    const f = field.object(['kind', 'loadBalancer', 'failureAccrual', 'maxAttempts', 'keepAliveIntervalMs', 'keepAliveTimeoutMs', 'connectTimeoutMs', 'maxConnectionsPerEndpoint', 'maxStreamsPerConnection', 'sendTimeoutMs', 'maxResetsPerConnection', 'resetsRefillPerSecond', 'tls', 'configs'], {
      requeueBudget: 'unprocessed streams are retried up to maxAttempts',
      hostConnectionPool: 'HTTP/2 multiplexes streams on a connection per endpoint (see maxConnectionsPerEndpoint)',
    });
    if (!f) return defaults;
    const kind = f.get('kind').oneOf(['io.l5d.global', 'io.l5d.static'] as const);
    const tls = this.clientTls(f.get('tls'), []);
    const configs = f.get('configs');
    let statics: ClientStaticConfig[] | undefined;
    if (configs.present && kind !== 'io.l5d.static') configs.fail('"configs" needs client kind io.l5d.static');
    else if (configs.present) statics = (configs.list() ?? []).map((c) => this.clientStatic(c)).filter((c) => c !== undefined);
    const lb = readKindBlock<LoadBalancerConfig>(
      f.get('loadBalancer'),
      balancerKinds,
      {
        kindWord: 'a load balancer kind',
        common: ['kind', 'decayTimeMs'],
        readCommon: (lbf) => ({ decayTimeMs: lbf.get('decayTimeMs').int(1, MAX_INT) ?? defaults.loadBalancer.decayTimeMs }),
        ignored: { maxEffort: 'balancers never give up picking', enableProbation: 'endpoints removed by discovery are drained, never probed' },
      },
      this.kindContext,
    );
    const accrualBlock = { kindWord: 'a failure accrual kind', common: ['kind'] };
    const keepAlive = f.get('keepAliveIntervalMs');
    const interval = keepAlive.int(0, MAX_INT);
    if (interval !== undefined && interval !== 0 && interval < 10000) keepAlive.expected('0 (off) or at least 10000 (10 s)');
    const out: ClientConfig = {
      loadBalancer: lb ?? defaults.loadBalancer,
      failureAccrual: readKindBlock<FailureAccrualConfig>(f.get('failureAccrual'), accrualKinds, accrualBlock, this.kindContext) ?? defaults.failureAccrual,
      maxAttempts: f.get('maxAttempts').int(1, 10) ?? defaults.maxAttempts,
      keepAliveIntervalMs: interval ?? defaults.keepAliveIntervalMs,
      keepAliveTimeoutMs: f.get('keepAliveTimeoutMs').int(1, MAX_INT) ?? defaults.keepAliveTimeoutMs,
      connectTimeoutMs: f.get('connectTimeoutMs').int(1, MAX_INT) ?? defaults.connectTimeoutMs,
      maxConnectionsPerEndpoint: f.get('maxConnectionsPerEndpoint').int(1, MAX_INT) ?? defaults.maxConnectionsPerEndpoint,
      maxStreamsPerConnection: f.get('maxStreamsPerConnection').int(0, MAX_INT) ?? defaults.maxStreamsPerConnection,
      sendTimeoutMs: f.get('sendTimeoutMs').int(0, MAX_TIMER_MS) ?? defaults.sendTimeoutMs,
      maxResetsPerConnection: f.get('maxResetsPerConnection').int(0, MAX_INT) ?? defaults.maxResetsPerConnection,
      resetsRefillPerSecond: f.get('resetsRefillPerSecond').int(0, MAX_INT) ?? defaults.resetsRefillPerSecond,
    };
    if (tls) out.tls = tls;
    if (statics) out.configs = statics;
    return out;
  }

  /** One `io.l5d.static` entry: a prefix of bound ids and the TLS its clients use. */
  private clientStatic(field: Field): ClientStaticConfig | undefined {
    const perClient = 'per-prefix client settings other than tls are not supported; set it beside "kind" (it applies to every client)';
    const f = field.object(['prefix', 'tls'], {}, {
      loadBalancer: perClient,
      failureAccrual: perClient,
      maxAttempts: perClient,
      connectTimeoutMs: perClient,
      maxConnectionsPerEndpoint: perClient,
      maxStreamsPerConnection: perClient,
      sendTimeoutMs: perClient,
      maxResetsPerConnection: perClient,
      resetsRefillPerSecond: perClient,
      keepAliveIntervalMs: perClient,
      keepAliveTimeoutMs: perClient,
    });
    if (!f) return field.present ? undefined : field.expected('a client config (a mapping with "prefix")');
    const prefixField = f.get('prefix').required('a prefix of bound ids such as /#/io.l5d.k8s/{ns}/{port}/{svc}');
    const text = prefixField?.string('a path');
    if (text === undefined || !prefixField) return undefined;
    let variables: string[];
    try {
      variables = parseClientPrefix(text).variables;
    } catch (err) {
      return prefixField.fail((err as Error).message);
    }
    const out: ClientStaticConfig = { prefix: text };
    const tls = this.clientTls(f.get('tls'), variables);
    if (tls) out.tls = tls;
    return out;
  }

  private bindingCache(field: Field): BindingCacheConfig {
    const d = defaultBindingCacheConfig();
    const f = field.object(['paths', 'clients', 'clientsPerClient', 'idleTtlSecs', 'transientIdleTtlSecs'], {
      trees: 'bound trees live inside the path bindings (bounded by paths)',
      bounds: 'bound names live inside the path bindings (bounded by paths)',
    });
    if (!f) return d;
    const idle = f.get('idleTtlSecs').int(1, MAX_INT / 1000);
    const transient = f.get('transientIdleTtlSecs').int(1, MAX_INT / 1000);
    const clients = f.get('clients').int(1, 1_000_000) ?? d.clients;
    const perClient = f.get('clientsPerClient');
    let clientsPerClient = perClient.int(1, 1_000_000);
    if (clientsPerClient !== undefined && clientsPerClient > clients) {
      perClient.fail(`expected at most clients (${clients}), got ${clientsPerClient}`);
      clientsPerClient = undefined;
    }
    return {
      paths: f.get('paths').int(1, 1_000_000) ?? d.paths,
      clients,
      clientsPerClient: clientsPerClient ?? perClientClients(clients),
      idleTtlMs: idle === undefined ? d.idleTtlMs : idle * 1000,
      transientIdleTtlMs: transient === undefined ? d.transientIdleTtlMs : transient * 1000,
    };
  }

  private metricSeries(field: Field): MetricSeriesConfig {
    const d = defaultMetricSeriesConfig();
    const f = field.object(['clients', 'routes', 'endpoints']);
    if (!f) return d;
    return {
      clients: f.get('clients').int(1, 1_000_000) ?? d.clients,
      routes: f.get('routes').int(1, 1_000_000) ?? d.routes,
      endpoints: f.get('endpoints').int(1, 1_000_000) ?? d.endpoints,
    };
  }

  private service(field: Field): ServiceConfig {
    const f = field.object(['kind', 'totalTimeoutMs']);
    if (!f) return {};
    const kind = f.get('kind');
    if (kind.present && kind.string() !== 'io.l5d.global') kind.expected('"io.l5d.global" (per-service static configs are not supported)');
    const total = f.get('totalTimeoutMs').int(1, MAX_INT);
    return total === undefined ? {} : { totalTimeoutMs: total };
  }

  /** An IP address or, as Linkerd's InetAddress allows, a host name resolved when binding. */
  private ip(field: Field): string | undefined {
    const ip = field.string('an IP address');
    if (ip === undefined) return undefined;
    if (isIP(ip) === 0 && !HOSTNAME.test(ip)) return field.expected('an IP address such as 127.0.0.1 or 0.0.0.0');
    return ip;
  }

  private duration(field: Field): number | undefined {
    if (!field.node) return undefined;
    const raw = (field.node as { value?: unknown }).value;
    const ms = typeof raw === 'string' || typeof raw === 'number' ? parseDuration(raw) : undefined;
    return ms ?? field.expected('a duration such as 5s, 500ms or 1m30s (or a number of milliseconds)');
  }

  private path(p: string): string {
    return isAbsolute(p) ? p : resolve(this.baseDir, p);
  }

  private checkUnique(items: readonly (readonly [string | undefined, Field | undefined])[], key: string, what: string): void {
    const seen = new Map<string, Field>();
    for (const [value, field] of items) {
      if (value === undefined || !field) continue;
      const first = seen.get(value);
      if (first) {
        const pos = this.src.position(first.offset);
        this.src.report(`${field.path}.${key}`, field.offset, `duplicate ${what} ${JSON.stringify(value)} (first at ${first.path}, line ${pos.line})`);
      } else seen.set(value, field);
    }
  }

  /** Two listeners on one port fail at bind time; say so before binding anything. */
  private checkPorts(admin: AdminConfig | undefined, routers: (RouterConfig | undefined)[], top: { get(k: string): Field }, grpclb?: GrpclbConfig): void {
    const routerFields = top.get('routers').list() ?? [];
    const labels: [string | undefined, Field | undefined][] = routers.map((r, i) => [r?.label, routerFields[i]]);
    this.checkUnique(labels, 'label', 'router label');
    const used: { ip: string; port: number; path: string; where: string }[] = [];
    const claim = (ip: string, port: number, owner: Field, path: string) => {
      const field = owner.peek('port');
      const at = field.present ? field : owner;
      const clash = used.find((u) => u.port === port && (u.ip === ip || wildcard(u.ip) || wildcard(ip)));
      if (clash) this.src.report(path, at.offset, `port ${port} is already used by ${clash.path} (${clash.where})`);
      else used.push({ ip, port, path, where: field.present ? `line ${this.src.position(field.offset).line}` : 'its default' });
    };
    if (admin) claim(admin.ip, admin.port, top.get('admin'), 'admin.port');
    if (admin?.probes) claim(admin.probes.ip, admin.probes.port, top.get('admin').peek('probes'), 'admin.probes.port');
    routers.forEach((router, i) => {
      const servers = routerFields[i]?.peek('servers');
      const serverFields = isSeq(servers?.node) ? servers!.list()! : [];
      router?.servers.forEach((server, j) => {
        if (server && serverFields[j]) claim(server.ip, server.port, serverFields[j]!, `routers[${i}].servers[${j}].port`);
      });
    });
    if (grpclb) claim(grpclb.ip, grpclb.port, top.get('grpclb'), 'grpclb.port');
  }
}

function wildcard(ip: string): boolean {
  return ip === '0.0.0.0' || ip === '::';
}

/** `{ key: value }` when the key was given, else nothing: for keys whose defaults their user holds. */
function optional<K extends string>(key: K, value: number | undefined): { [P in K]?: number } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: number };
}
