#!/usr/bin/env node
// kube-grpc-router: the command line. One process, three ways to say what to route:
// a Linkerd-style config file, gproxy's -p LISTEN-TARGET, or (no arguments) the embedded local demo.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from './config/errors.js';
import { loadConfigFile, type LoadedConfig } from './config/load.js';
import { parseDuration } from './config/duration.js';
import { parseProxySpec, ProxySpecError } from './config/proxy-spec.js';
import { proxyModeConfig, type ProxyTargetTls } from './config/proxy-config.js';
import type { Config } from './config/types.js';
import { exitOnSignals, startRouterProcess } from './main.js';
import { required } from './util/required.js';
import { Logger, type LogFormat, type LogLevel } from './util/log.js';
import { VERSION } from './version.js';

// Not an import: its namespace loads util's diff and colour internals (util/required.ts).
const { parseArgs } = required<typeof import('node:util')>('node:util');

/** The embedded default config (dist/src/cli.js → examples/local.yaml in the source tree). */
export const LOCAL_CONFIG = fileURLToPath(new URL('../../examples/local.yaml', import.meta.url));

const HELP = `kube-grpc-router ${VERSION} — a per-node, Linkerd-style gRPC router for Kubernetes

Usage:
  kube-grpc-router                         run the local demo: router on 127.0.0.1:4140, dashboard on
                                           http://127.0.0.1:9990, three echo backends and some traffic
  kube-grpc-router --config FILE           run the routers a Linkerd 1 style YAML config describes
  kube-grpc-router -p LISTEN-TARGET [-p …] gproxy mode: every call on LISTEN goes to TARGET
  kube-grpc-router dtab fmt|check|delegate …   work with dtab files (kube-grpc-router dtab --help)
  kube-grpc-router control --config FILE   the xDS control plane (kube-grpc-router control --help)

Options:
  -c, --config FILE            config file (default: the embedded local config, examples/local.yaml)
      --print-config           print the effective config as JSON and exit (0), or its errors (1)
  -p, --proxy LISTEN-TARGET    repeatable; LISTEN is [HOST]:PORT (empty host = all interfaces),
                               TARGET is kubernetes:///svc[.ns][:port], dns:///host:port or host:port
  -d, --shutdown-delay DUR     -p mode: keep serving this long after SIGTERM before draining (default 5s)
      --admin [IP:]PORT        -p mode: admin server address (default 127.0.0.1:9990)
      --target-ca FILE|system  -p mode: speak TLS (ALPN h2) to the targets, trusting this CA
      --target-name NAME       -p mode: the name target certificates must carry, and the SNI (default:
                               SVC.NS.svc.cluster.local for kubernetes:///, the host for host:port)
      --target-cert FILE, --target-key FILE   -p mode: client certificate for targets requiring mTLS
      --log-format json|text   log lines as JSON objects (default; text for the local demo)
      --log-level LEVEL        debug, info (default), warn or error
  -v, --version                print the version
  -h, --help                   print this help

Environment (local demo only): KGR_LOCAL_ROUTER_PORT, KGR_LOCAL_ADMIN_PORT override 4140 and 9990.

Examples:
  npm start                                               # the local demo
  kube-grpc-router --config /etc/kube-grpc-router/config.yaml
  kube-grpc-router --config config.yaml --print-config    # check a config, see every default
  kube-grpc-router -p :5000-kubernetes:///echo-server.default:grpc -d 10s
  kube-grpc-router -p my-host:5000-dns:///echo.example.com:8080 -p 127.0.0.1:5001-127.0.0.1:8080
  kube-grpc-router dtab check dtab.txt
  node dist/examples/echo-call.js 127.0.0.1:4140 hello     # one echo call through the router
`;

const LOG_FORMATS: readonly LogFormat[] = ['json', 'text'];
const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

class UsageError extends Error {}

async function run(argv: string[]): Promise<number | undefined> {
  if (argv[0] === 'dtab') {
    const [{ runDtabCommand }, { globalNamer }, { resolveHost }] = await Promise.all([
      import('./dtab/commands.js'),
      import('./namers/global.js'),
      import('./namers/dns.js'),
    ]);
    // The same global namer the router builds (main.ts), so `dtab delegate` resolves /$/inet as routing does.
    const global = globalNamer({ resolveHost });
    return runDtabCommand(argv.slice(1), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }, { global });
  }
  if (argv[0] === 'control') {
    const { runControl } = await import('./xds/command.js');
    return runControl(argv.slice(1), { stdout: process.stdout, stderr: process.stderr, env: process.env });
  }
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      config: { type: 'string', short: 'c' },
      'print-config': { type: 'boolean' },
      proxy: { type: 'string', short: 'p', multiple: true },
      'shutdown-delay': { type: 'string', short: 'd' },
      'target-ca': { type: 'string' },
      'target-name': { type: 'string' },
      'target-cert': { type: 'string' },
      'target-key': { type: 'string' },
      admin: { type: 'string' },
      'log-format': { type: 'string' },
      'log-level': { type: 'string' },
      version: { type: 'boolean', short: 'v' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (values.version) {
    process.stdout.write(`kube-grpc-router ${VERSION}\n`);
    return 0;
  }
  const proxies = values.proxy ?? [];
  const demo = proxies.length === 0 && !values.config;
  // The demo is for people at a terminal; a deployed router logs JSON for machines.
  const format = oneOf('--log-format', values['log-format'] ?? (demo ? 'text' : 'json'), LOG_FORMATS);
  const level = oneOf('--log-level', values['log-level'] ?? 'info', LOG_LEVELS);
  const log = Logger.create({ format, level });
  if (proxies.length > 0 && values.config) throw new UsageError('use either --config or -p/--proxy, not both');
  if (proxies.length === 0 && (values['shutdown-delay'] || values.admin)) throw new UsageError('-d/--shutdown-delay and --admin apply to -p/--proxy mode');
  const targetTls = targetTlsOf(values);
  if (proxies.length === 0 && targetTls) throw new UsageError('--target-ca, --target-name, --target-cert and --target-key apply to -p/--proxy mode');

  let loaded: LoadedConfig;
  try {
    loaded = proxies.length > 0 ? { config: proxyConfig(proxies, values['shutdown-delay'], values.admin, targetTls), ignored: [] } : loadConfigFile(values.config ?? LOCAL_CONFIG);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof ProxySpecError) {
      process.stderr.write(`${err.message}\n`);
      return 1;
    }
    throw err;
  }
  if (values['print-config']) {
    process.stdout.write(JSON.stringify(loaded.config, null, 2) + '\n');
    return 0;
  }
  for (const note of loaded.ignored) log.info('config key ignored', { key: note.path, reason: note.reason });
  for (const w of loaded.warnings ?? []) log.warn(w.message, { key: w.path, at: `${w.file}:${w.line}:${w.column}` });

  if (demo) {
    // No arguments: the embedded default, which also starts its own backends and traffic.
    const { runLocalDemo } = await import('../examples/local-demo.js');
    await runLocalDemo(loaded.config, { log, configFile: LOCAL_CONFIG });
    return undefined;
  }
  await serve(loaded.config, log);
  return undefined;
}

async function serve(config: Config, log: Logger): Promise<void> {
  const proc = await startRouterProcess(config, { log });
  exitOnSignals(proc, log);
  log.info('kube-grpc-router started', {
    version: VERSION,
    routers: config.routers.map((r) => ({ label: r.label, servers: r.servers.map((s) => `${s.ip}:${s.port}`) })),
    admin: `http://${config.admin.ip}:${proc.admin.port}/`,
  });
}

/** The -p mode TLS target flags, or undefined when none is given. */
function targetTlsOf(values: { 'target-ca'?: string; 'target-name'?: string; 'target-cert'?: string; 'target-key'?: string }): ProxyTargetTls | undefined {
  const { 'target-ca': ca, 'target-name': name, 'target-cert': cert, 'target-key': key } = values;
  if (ca === undefined) {
    if (name !== undefined || cert !== undefined || key !== undefined) throw new UsageError('--target-name, --target-cert and --target-key need --target-ca (a CA file, or "system")');
    return undefined;
  }
  if ((cert === undefined) !== (key === undefined)) throw new UsageError('--target-cert and --target-key go together');
  const out: ProxyTargetTls = { ca: ca === 'system' ? ca : resolve(ca) };
  if (name !== undefined) out.name = name;
  if (cert !== undefined && key !== undefined) Object.assign(out, { cert: resolve(cert), key: resolve(key) });
  return out;
}

function proxyConfig(raw: string[], delay: string | undefined, admin: string | undefined, targetTls: ProxyTargetTls | undefined): Config {
  const shutdownDelayMs = delay === undefined ? 5000 : parseDuration(delay);
  if (shutdownDelayMs === undefined) throw new UsageError(`--shutdown-delay: expected a duration such as 5s or 500ms, got "${delay}"`);
  const adminAddress = parseAdmin(admin ?? '127.0.0.1:9990');
  return proxyModeConfig(raw.map(parseProxySpec), {
    shutdownDelayMs,
    admin: adminAddress,
    // Unset: the namers use the pod's service-account namespace, else `default` (kuberesolver's rule).
    defaultNamespace: process.env.POD_NAMESPACE || undefined,
    ...(targetTls ? { targetTls } : {}),
  });
}

function parseAdmin(text: string): { ip: string; port: number } {
  const m = /^(?:(\[[^\]]+\]|[^:]+):)?(\d{1,5})$/.exec(text);
  const port = Number(m?.[2]);
  if (!m || port < 1 || port > 65535) throw new UsageError(`--admin: expected [IP:]PORT such as 127.0.0.1:9990, got "${text}"`);
  return { ip: (m[1] ?? '127.0.0.1').replace(/^\[|\]$/g, ''), port };
}

function oneOf<T extends string>(flag: string, value: string, values: readonly T[]): T {
  if ((values as readonly string[]).includes(value)) return value as T;
  throw new UsageError(`${flag}: expected one of ${values.join(', ')}, got "${value}"`);
}

run(process.argv.slice(2)).then(
  (code) => {
    if (code !== undefined) process.exitCode = code;
  },
  (err: unknown) => {
    const usage = err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    process.stderr.write(`kube-grpc-router: ${(err as Error).message}\n${usage ? 'Try kube-grpc-router --help.\n' : ''}`);
    // Exit even if something half-started still holds a handle (stderr is synchronous on Linux).
    process.exit(usage ? 2 : 1);
  },
);
