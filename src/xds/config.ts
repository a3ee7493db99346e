import { isIP } from 'node:net';
import { ConfigError } from '../config/errors.js';
import type { Config, RouterConfig } from '../config/types.js';
import { YamlSource } from '../config/yaml-reader.js';
import type { XdsServerConfig } from './server.js';

/** The control mode's settings: the xDS server and the router whose routing table it serves. */
export interface ControlConfig extends XdsServerConfig {
  /** The router (by label) whose dtab, live dtab file, dstPrefix and binding timeouts bind services. */
  router: RouterConfig;
}

export const DEFAULT_XDS_PORT = 18000;

/**
 * The `xds:` key of a config file (the router loader accepts it and leaves it to this reader):
 *
 *     xds: {ip: 0.0.0.0, port: 18000, router: control, maxStreams: 10000, maxStreamsPerClient: 100,
 *           maxNamesPerStream: 1000, maxNames: 10000, maxSubscriptions: 200000, maxSubscriptionsPerClient: 4000,
 *           maxConnections: 10000, maxConnectionsPerClient: 100}
 *
 * Every key is optional; errors name file:line:col and the key path, as the loader's do.
 */
export function readControlConfig(file: string, text: string, config: Config): ControlConfig {
  const src = new YamlSource(file, text);
  const field = src.root.peek('xds');
  const f = field.present ? field.object(['ip', 'port', 'router', 'maxStreams', 'maxStreamsPerClient', 'maxNamesPerStream', 'maxNames', 'maxSubscriptions', 'maxSubscriptionsPerClient', 'maxConnections', 'maxConnectionsPerClient']) : undefined;
  const ipField = f?.get('ip');
  const ip = ipField?.string('an IP address');
  if (ip !== undefined && isIP(ip) === 0) ipField!.expected('an IP address');
  const routerField = f?.get('router');
  const label = routerField?.string('a router label');
  const router = label === undefined ? config.routers[0] : config.routers.find((r) => r.label === label);
  if (label !== undefined && router === undefined) {
    routerField!.fail(`no router is labelled ${JSON.stringify(label)} (routers: ${config.routers.map((r) => JSON.stringify(r.label)).join(', ')})`);
  }
  const out = {
    ip: ip ?? '0.0.0.0',
    port: f?.get('port').int(1, 65535) ?? DEFAULT_XDS_PORT,
    maxStreams: f?.get('maxStreams').int(1, 10_000_000) ?? 10_000,
    maxNamesPerStream: f?.get('maxNamesPerStream').int(1, 1_000_000) ?? 1000,
    maxNames: f?.get('maxNames').int(1, 10_000_000) ?? 10_000,
    maxStreamsPerClient: f?.get('maxStreamsPerClient').int(1, 10_000_000) ?? 100,
    maxSubscriptions: f?.get('maxSubscriptions').int(1, 100_000_000) ?? 200_000,
    maxSubscriptionsPerClient: f?.get('maxSubscriptionsPerClient').int(1, 100_000_000) ?? 4000,
    // An xDS client (a node's router, a proxyless process) keeps one connection for its stream:
    // as many as maxStreams, at ~12 KB each (120 MB in all, under the control plane's 512 Mi). An
    // address may be a node's, shared by its router and every hostNetwork pod.
    maxConnections: f?.get('maxConnections').int(1, 1_000_000) ?? 10_000,
    maxConnectionsPerClient: f?.get('maxConnectionsPerClient').int(1, 1_000_000) ?? 100,
  };
  if (src.issues.length > 0 || router === undefined) throw new ConfigError([...src.issues].sort((a, b) => a.line - b.line || a.column - b.column));
  return { ...out, router };
}
