import type { NamerConfig } from '../config/types.js';
import { Path } from '../dtab/path.js';
import type { Logger } from '../util/log.js';
import type { Metrics } from '../telemetry/metrics.js';
import { KindRegistry } from '../util/kind-registry.js';
import type { PrefixedNamer } from './namer.js';
import type { NamerKind } from './kind.js';
import { k8sNamer } from './kinds/k8s.js';
import { k8sNsNamer } from './kinds/k8s-ns.js';
import { dnsNamer } from './kinds/dns.js';
import { dnsSrvNamer } from './kinds/dnssrv.js';
import { fsNamer } from './kinds/fs.js';
import { xdsNamer } from './kinds/xds.js';

/** Every namer `kind:` the config may name; a new kind is one file in kinds/ and one line here. */
export const namerKinds = new KindRegistry<NamerKind>('namer');
for (const kind of [k8sNamer, k8sNsNamer, dnsNamer, dnsSrvNamer, fsNamer, xdsNamer] as NamerKind[]) namerKinds.register(kind);

export interface NamerDeps {
  metrics: Metrics;
  log: Logger;
  /** Where POD_NAMESPACE, NODE_NAME, KUBECONFIG, KUBERNETES_SERVICE_* come from. Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** The entry's config key (`namers[0]`), named by the errors of its limits. */
  key?: string;
}

/**
 * Build the namer a config entry describes, answering under its prefix (default `/#/<kind>`); keys
 * a hand-built entry leaves out get the kind's defaults. Async because a kind may load its
 * implementation on demand (the Kubernetes namers' ~70 MB client). A bad entry (or kubeconfig) rejects.
 */
export async function createNamer(config: NamerConfig, deps: NamerDeps): Promise<PrefixedNamer> {
  const { kind, config: full } = namerKinds.resolve(config);
  const prefix = parsePrefix(config.prefix || `/#/${config.kind}`, config.kind);
  const ctx = { prefix, metrics: deps.metrics, log: deps.log.child({ namer: prefix.show() }), env: deps.env ?? process.env, key: deps.key };
  return { prefix, kind: config.kind, namer: await kind.create(full, ctx) };
}

function parsePrefix(text: string, kind: string): Path {
  const segments = text.split('/').filter((s) => s.length > 0);
  if (!text.startsWith('/') || segments.length === 0 || segments.some((s) => !/^[A-Za-z0-9_:.#$%-]+$/.test(s))) {
    throw new Error(`namers: ${kind}: prefix "${text}" is not a path like /#/${kind}`);
  }
  return new Path(segments);
}
