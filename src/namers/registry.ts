import type { Logger } from '../util/log.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { DnsNamerConfig, FsNamerConfig, NamerConfig } from '../config/types.js';
import { Path } from '../dtab/path.js';
import type { PrefixedNamer } from './namer.js';
import { DnsNamer, dnsMetricHooks } from './dns.js';
import { DnsSrvNamer } from './dnssrv.js';
import { FsNamer } from './fs.js';

/** Every namer `kind:` the config may name. */
export const NAMER_KINDS = ['io.l5d.k8s', 'io.l5d.k8s.ns', 'io.l5d.dns', 'io.l5d.dnssrv', 'io.l5d.fs'] as const;
export type NamerKind = (typeof NAMER_KINDS)[number];

export interface NamerDeps {
  metrics: Metrics;
  log: Logger;
  /** Where POD_NAMESPACE, NODE_NAME, KUBECONFIG, KUBERNETES_SERVICE_* come from. Default process.env. */
  env?: NodeJS.ProcessEnv;
}

/**
 * Build the namer a config entry describes, answering under its prefix (default `/#/<kind>`).
 * Async because the Kubernetes namers load `@kubernetes/client-node` on demand: a router without
 * them never pays its ~70 MB. A bad entry (or kubeconfig) rejects.
 */
export async function createNamer(config: NamerConfig, deps: NamerDeps): Promise<PrefixedNamer> {
  const prefix = parsePrefix(config.prefix || `/#/${config.kind}`, config.kind);
  const env = deps.env ?? process.env;
  const log = deps.log.child({ namer: prefix.show() });
  switch (config.kind) {
    case 'io.l5d.k8s':
    case 'io.l5d.k8s.ns': {
      const { createK8sNamer } = await import('./k8s/create.js');
      return { prefix, kind: config.kind, namer: createK8sNamer(config, prefix, env, log, deps.metrics) };
    }
    case 'io.l5d.dns':
    case 'io.l5d.dnssrv': {
      const full = deps.metrics.limitsReached.labels({ namer: prefix.show(), limit: 'maxNames' });
      const options = { ...dnsOptions(config, log, dnsMetricHooks(deps.metrics, prefix.show())), onFull: () => full.inc() };
      const namer = config.kind === 'io.l5d.dns' ? new DnsNamer(prefix, options) : new DnsSrvNamer(prefix, options);
      return { prefix, kind: config.kind, namer };
    }
    case 'io.l5d.fs':
      return { prefix, kind: config.kind, namer: fsNamer(config, prefix, log) };
    default: {
      const kind = (config as { kind: string }).kind;
      throw new Error(`namers: unknown kind "${kind}" (known: ${NAMER_KINDS.join(', ')})`);
    }
  }
}

function dnsOptions(config: DnsNamerConfig, log: Logger, onResult: (kind: 'ok' | 'nxdomain' | 'error') => void) {
  return { refreshIntervalSeconds: config.refreshIntervalSeconds ?? 5, dnsHosts: config.dnsHosts, maxNames: config.maxNames, log, onResult };
}

function fsNamer(config: FsNamerConfig, prefix: Path, log: Logger): FsNamer {
  if (!config.rootDir) throw new Error(`namers: io.l5d.fs at ${prefix.show()} needs rootDir`);
  return new FsNamer(prefix, config.rootDir, log);
}

function parsePrefix(text: string, kind: string): Path {
  const segments = text.split('/').filter((s) => s.length > 0);
  if (!text.startsWith('/') || segments.length === 0 || segments.some((s) => !/^[A-Za-z0-9_:.#$%-]+$/.test(s))) {
    throw new Error(`namers: ${kind}: prefix "${text}" is not a path like /#/${kind}`);
  }
  return new Path(segments);
}
