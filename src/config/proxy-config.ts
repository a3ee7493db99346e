import { stringify } from 'yaml';
import type { Config } from './types.js';
import { parseTarget, TargetError, type ParsedTarget } from '../namers/target.js';
import { parseConfig } from './load.js';
import { ProxySpecError, type ProxySpec } from './proxy-spec.js';

const NAMER_OF = { k8s: 'io.l5d.k8s', dns: 'io.l5d.dns' } as const;

export interface ProxyModeOptions {
  shutdownDelayMs: number;
  admin: { ip: string; port: number };
  /** Namespace for `kubernetes:///svc` targets without one; unset: the pod's own, else `default`. */
  defaultNamespace: string | undefined;
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
    let target: ParsedTarget;
    try {
      target = parseTarget(spec.target, options.defaultNamespace === undefined ? {} : { defaultNamespace: options.defaultNamespace });
    } catch (err) {
      if (err instanceof TargetError) throw new ProxySpecError(`"${spec.raw}" is invalid proxy configuration: ${err.message}`);
      throw err;
    }
    // `/$/inet/…` (static) needs no configured namer.
    if (target.kind !== 'static') namerKinds.add(NAMER_OF[target.kind]);
    let label = `proxy-${spec.port}`;
    for (let i = 2; labels.has(label); i++) label = `proxy-${spec.port}-${i}`;
    labels.add(label);
    return {
      protocol: 'h2',
      label,
      // Every call, whatever its service, goes to the target (gproxy proxies unknown services).
      dtab: `/svc/* => ${target.path};`,
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
