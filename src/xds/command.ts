import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError } from '../config/errors.js';
import { loadConfigFile } from '../config/load.js';
import { exitOnSignals } from '../main.js';
import { Logger, type LogFormat, type LogLevel } from '../util/log.js';
import { VERSION } from '../version.js';
import { bootstrapFor } from './bootstrap.js';
import { readControlConfig } from './config.js';
import { startControlPlane } from './control.js';

export const CONTROL_HELP = `kube-grpc-router control — the xDS control plane (Aggregated Discovery Service, v3)

Usage:
  kube-grpc-router control --config FILE       serve xDS: the namers and the dtab of the config's
                                               router (routers[].servers are not opened), and the
                                               \`xds:\` key {ip, port, router, maxStreams,
                                               maxStreamsPerClient, maxNamesPerStream, maxNames,
                                               maxSubscriptions, maxSubscriptionsPerClient,
                                               maxConnections, maxConnectionsPerClient}
                                               (default 0.0.0.0:18000)
  kube-grpc-router control --print-bootstrap [--xds-server HOST:PORT]
                                               print a pod's gRPC xDS bootstrap JSON (from POD_NAME,
                                               POD_NAMESPACE, NODE_NAME, KGR_ZONE, KGR_XDS_SERVER)

Options:
  -c, --config FILE          the config file (Linkerd 1 style, as for the router)
      --log-format json|text (default json)
      --log-level LEVEL      debug, info (default), warn or error
  -h, --help
`;

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  'print-bootstrap': { type: 'boolean' },
  'xds-server': { type: 'string' },
  'log-format': { type: 'string' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** `kube-grpc-router control …`: exit code, or undefined while the control plane runs. */
export async function runControl(argv: string[], io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream; env: NodeJS.ProcessEnv }): Promise<number | undefined> {
  const { values } = parseArgs({ args: argv, options: OPTIONS, strict: true });
  if (values.help) {
    io.stdout.write(CONTROL_HELP);
    return 0;
  }
  if (values['print-bootstrap']) {
    io.stdout.write(`${JSON.stringify(bootstrapFor(io.env, values['xds-server']), null, 2)}\n`);
    return 0;
  }
  if (!values.config) {
    io.stderr.write(`kube-grpc-router control: --config FILE is required\n\n${CONTROL_HELP}`);
    return 2;
  }
  const format = values['log-format'] ?? 'json';
  const level = values['log-level'] ?? 'info';
  if ((format !== 'json' && format !== 'text') || !['debug', 'info', 'warn', 'error'].includes(level)) {
    io.stderr.write(`kube-grpc-router control: --log-format is json or text, --log-level debug, info, warn or error (got ${format}, ${level})\n`);
    return 2;
  }
  const log = Logger.create({ format: format as LogFormat, level: level as LogLevel });
  let started;
  try {
    const { config } = loadConfigFile(values.config);
    const control = readControlConfig(values.config, readFileSync(values.config, 'utf8'), config);
    started = { config, control };
  } catch (err) {
    if (err instanceof ConfigError) {
      io.stderr.write(`${err.message}\n`);
      return 1;
    }
    throw err;
  }
  const plane = await startControlPlane(started.config, started.control, { log, env: io.env });
  exitOnSignals(plane, log);
  log.info('kube-grpc-router control plane started', { version: VERSION, xds: `${started.control.ip}:${plane.xds.port}`, router: started.control.router.label, admin: `http://${started.config.admin.ip}:${plane.admin.port}/` });
  return undefined;
}
