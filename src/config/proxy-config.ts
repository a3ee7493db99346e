import { isIP } from 'node:net';
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
  /** Speak TLS to every target (`--target-ca`, `--target-name`, `--target-cert`/`--target-key`). */
  targetTls?: ProxyTargetTls;
}

export interface ProxyTargetTls {
  /** A CA file the targets' certificates must chain to, or `system` for the system's CAs. */
  ca: string;
  /** The name the targets' certificates must carry, and the SNI; default: the target's (see targetName). */
  name?: string;
  /** A client certificate and key, for targets that require one. */
  cert?: string;
  key?: string;
}

/**
 * The name a target's certificate is checked against by default: a Service's cluster DNS name for
 * `kubernetes:///svc.ns:port`, the host of `host:port` and `dns:///host:port`; none for an IP (the
 * certificate must then carry the endpoint's IP).
 */
export function targetName(path: string): string | undefined {
  const seg = path.split('/').filter((s) => s !== '');
  if (seg[0] === '#' && seg[1] === 'io.l5d.k8s' && seg.length >= 5) return `${seg[4]}.${seg[2]}.svc.cluster.local`;
  const host = seg[0] === '$' && seg[1] === 'inet' ? seg[2] : seg[0] === '#' && seg[1] === 'io.l5d.dns' ? seg[2] : undefined;
  return host === undefined || isIP(host) !== 0 ? undefined : host;
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
    const router: Record<string, unknown> = {
      protocol: 'h2',
      label,
      // Every call, whatever its service, goes to the target (gproxy proxies unknown services).
      dtab: `/svc/* => ${target.path};`,
      servers: [{ ip: spec.ip, port: spec.port }],
    };
    const t = options.targetTls;
    if (t) {
      const tls: Record<string, unknown> = { trustCerts: t.ca === 'system' ? [] : [t.ca] };
      const name = t.name ?? targetName(target.path);
      if (name !== undefined) tls['commonName'] = name;
      if (t.cert !== undefined || t.key !== undefined) tls['clientAuth'] = { certPath: t.cert, keyPath: t.key };
      router['client'] = { kind: 'io.l5d.global', tls };
    }
    return router;
  });
  const raw = {
    admin: options.admin,
    namers: [...namerKinds].map((kind) => ({ kind })),
    routers,
    shutdownDelay: options.shutdownDelayMs,
  };
  return parseConfig(stringify(raw), { source: '--proxy' }).config;
}
