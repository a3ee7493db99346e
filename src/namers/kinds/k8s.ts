import type { NamerConfig } from '../../config/types.js';
import type { Fields } from '../../config/yaml-reader.js';
import type { K8sSettings } from '../k8s/create.js';
import type { NamerKind } from '../kind.js';
import { WATCH_RATE } from '../creation-rate.js';
import { MAX_WATCHES } from '../k8s/watch-cost.js';

/** `io.l5d.k8s`: `/<namespace>/<port name>/<service>` → the Service's ready endpoints. */
export interface K8sNamerConfig extends NamerConfig, K8sSettings {}

export const K8S_DEFAULTS = {
  preferLocalNode: false,
  idleTtlSecs: 600,
  maxWatches: MAX_WATCHES,
  maxNames: 1000,
  watchesPerSecond: WATCH_RATE.perSecond,
  watchesBurst: WATCH_RATE.burst,
} as const;
export const K8S_KEYS = ['host', 'port', 'preferLocalNode', 'idleTtlSecs', 'maxWatches', 'maxNames', 'watchesPerSecond', 'watchesBurst'] as const;

/** The keys both Kubernetes namers take. */
export function readK8s(f: Fields): Omit<K8sSettings, 'envVar'> {
  const out: Omit<K8sSettings, 'envVar'> = { ...K8S_DEFAULTS };
  const host = f.get('host').string('a host name or IP');
  const port = f.get('port').int(1, 65535);
  // Plain-HTTP API (kubectl proxy) when either is set: Linkerd's defaults fill the other.
  if (host !== undefined || port !== undefined) {
    out.host = host ?? 'localhost';
    out.port = port ?? 8001;
  }
  out.preferLocalNode = f.get('preferLocalNode').bool() ?? K8S_DEFAULTS.preferLocalNode;
  out.idleTtlSecs = f.get('idleTtlSecs').int(0, Number.MAX_SAFE_INTEGER) ?? K8S_DEFAULTS.idleTtlSecs;
  out.maxWatches = f.get('maxWatches').int(1, 1_000_000) ?? K8S_DEFAULTS.maxWatches;
  out.maxNames = f.get('maxNames').int(1, 1_000_000) ?? K8S_DEFAULTS.maxNames;
  out.watchesPerSecond = f.get('watchesPerSecond').int(0, 1_000_000) ?? K8S_DEFAULTS.watchesPerSecond;
  out.watchesBurst = f.get('watchesBurst').int(1, 1_000_000) ?? K8S_DEFAULTS.watchesBurst;
  return out;
}

export const k8sNamer: NamerKind<K8sNamerConfig> = {
  kind: 'io.l5d.k8s',
  keys: K8S_KEYS,
  defaults: K8S_DEFAULTS,
  read: readK8s,
  async create(config, { prefix, env, log, metrics, key }) {
    // The k8s connection (and, for a kubeconfig, @kubernetes/client-node) is loaded when such a namer is built.
    const { createK8sNamer } = await import('../k8s/create.js');
    return createK8sNamer(config, prefix, env, log, metrics, key);
  },
};
