import { stringify } from 'yaml';
import type { Config } from './types.js';
import { parseTarget } from '../namers/target.js';
import { NAMER_KINDS, parseConfig } from './load.js';
import type { ProxySpec } from './proxy-spec.js';

export interface ProxyModeOptions {
  shutdownDelayMs: number;
  admin: { ip: string; port: number };
  /** Namespace for `kubernetes:///svc` targets without one (POD_NAMESPACE, else `default`). */
  defaultNamespace: string;
}

/**
 * gproxy's mode as a config: one router per `-p`, sending every call (`/svc/<service>`) to the
 * target's namer path. It goes through the same loader as a config file, so defaults and checks
 * are the same and `--print-config` shows what runs.
 */
export function proxyModeConfig(specs: readonly ProxySpec[], options: ProxyModeOptions): Config {
  const namerKinds = new Set<string>();
  const labels = new Set<string>();
  const routers = specs.map((spec) => {
    const target = parseTarget(spec.target, { defaultNamespace: options.defaultNamespace });
    if ((NAMER_KINDS as readonly string[]).includes(target.kind)) namerKinds.add(target.kind);
    let label = `proxy-${spec.port}`;
    for (let i = 2; labels.has(label); i++) label = `proxy-${spec.port}-${i}`;
    labels.add(label);
    return {
      protocol: 'h2',
      label,
      // Every call, whatever its service, goes to the target (gproxy proxies unknown services).
      dtab: `/svc/* => ${target.path.show()};`,
      servers: [{ ip: spec.ip, port: spec.port }],
    };
  });
  const raw = {
    admin: options.admin,
    namers: [...namerKinds].map((kind) => ({ kind })),
    routers,
    shutdownDelay: options.shutdownDelayMs,
  };
  return parseConfig(stringify(raw), { source: '--proxy' }).config;
}
