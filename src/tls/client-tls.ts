import type * as tls from 'node:tls';
import type { ClientConfig, ClientTlsConfig } from '../config/types.js';
import type { Logger } from '../util/log.js';
import { ReloadingMaterial, type CertificateInfo } from './material.js';
import type { TlsFailureReason } from './reasons.js';

/**
 * TLS from the router to endpoints, Linkerd 1 style: `client.tls` (kind `io.l5d.global`) for every
 * bound client, or `client.configs[]` (kind `io.l5d.static`) whose `prefix` matches bound ids, with
 * `{variables}` that fill `commonName`: `/#/io.l5d.k8s/{ns}/{port}/{svc}` and
 * `{svc}.{ns}.svc.cluster.local` check `/#/io.l5d.k8s/prod/grpc/users` against
 * `users.prod.svc.cluster.local`. The last matching config wins; a client no config matches uses
 * `client.tls`, else plaintext h2c.
 *
 * The files of each `tls` block are read once per router and followed as they change (the same
 * ReloadingMaterial a TLS server uses); new connections take the material of the moment.
 */

/** What one endpoint connection needs to speak TLS: passed to tls.connect by the session pool. */
export interface UpstreamTls {
  /** The secure context of the moment (trust, client certificate). */
  context(): tls.SecureContext;
  /** SNI, and the name the endpoint's certificate must carry; undefined: its address. */
  readonly servername: string | undefined;
  readonly rejectUnauthorized: boolean;
  /** A handshake towards an endpoint failed (counted by reason). */
  onFailure?(reason: TlsFailureReason): void;
}

type Segment = { literal: string } | { variable: string } | { any: true };

/** A `configs[].prefix`: `/`-separated segments, each literal, `*` (any one) or `{name}` (any one, captured). */
export function parseClientPrefix(text: string): { segments: Segment[]; variables: string[] } {
  if (!text.startsWith('/')) throw new Error(`expected a path such as /#/io.l5d.k8s/{ns}/{port}/{svc}, got ${JSON.stringify(text)}`);
  const parts = text === '/' ? [] : text.slice(1).split('/');
  const variables: string[] = [];
  const segments = parts.map((p): Segment => {
    if (p === '') throw new Error(`empty segment in ${JSON.stringify(text)}`);
    if (p === '*') return { any: true };
    const m = /^\{([A-Za-z_][A-Za-z0-9_.-]*)\}$/.exec(p);
    if (m) {
      if (variables.includes(m[1]!)) throw new Error(`{${m[1]}} appears twice in ${JSON.stringify(text)}`);
      variables.push(m[1]!);
      return { variable: m[1]! };
    }
    if (/[{}]/.test(p)) throw new Error(`segment ${JSON.stringify(p)}: a variable is a whole segment, such as {svc}`);
    return { literal: p };
  });
  return { segments, variables };
}

/** The variables `segments` capture from `id`, or undefined when it does not match. */
function match(segments: readonly Segment[], id: readonly string[]): Record<string, string> | undefined {
  if (id.length < segments.length) return undefined;
  const vars: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i]!;
    if ('literal' in s) {
      if (s.literal !== id[i]) return undefined;
    } else if ('variable' in s) vars[s.variable] = id[i]!;
  }
  return vars;
}

interface Rule {
  segments: Segment[];
  config: ClientTlsConfig;
  material: ReloadingMaterial;
}

interface Followed {
  material: ReloadingMaterial;
  /** Config key path of its client certificate, for the dashboard. */
  use: string;
}

/** A router's client TLS: which bound ids speak TLS, with what. `close` stops following the files. */
export class ClientTls {
  private readonly rules: Rule[] = [];
  private readonly global: Rule | undefined;
  private readonly byConfig = new Map<ClientTlsConfig, Followed>();

  constructor(
    config: ClientConfig,
    log: Logger,
    private readonly onFailure?: (reason: TlsFailureReason) => void,
  ) {
    const material = (c: ClientTlsConfig, use: string) => {
      let m = this.byConfig.get(c);
      if (m === undefined) {
        const files = { caPaths: c.trustCerts, ...(c.clientAuth ? { certPath: c.clientAuth.certPath, keyPath: c.clientAuth.keyPath } : {}) };
        this.byConfig.set(c, (m = { material: new ReloadingMaterial(files, { log, use }), use: `${use}.clientAuth.certPath` }));
      }
      return m.material;
    };
    if (config.tls) this.global = { segments: [], config: config.tls, material: material(config.tls, 'client.tls') };
    (config.configs ?? []).forEach((c, i) => {
      if (c.tls) this.rules.push({ segments: parseClientPrefix(c.prefix).segments, config: c.tls, material: material(c.tls, `client.configs[${i}].tls`) });
    });
  }

  /** True when no client of this router speaks TLS. */
  get empty(): boolean {
    return this.global === undefined && this.rules.length === 0;
  }

  /** The TLS a client for bound id `id` (its segments) uses, or undefined for h2c. */
  forId(id: readonly string[]): UpstreamTls | undefined {
    for (let i = this.rules.length - 1; i >= 0; i--) {
      const rule = this.rules[i]!;
      const vars = match(rule.segments, id);
      if (vars !== undefined) return this.upstream(rule, vars);
    }
    return this.global ? this.upstream(this.global, {}) : undefined;
  }

  private upstream(rule: Rule, vars: Record<string, string>): UpstreamTls {
    const cn = rule.config.commonName?.replace(/\{([^}]*)\}/g, (_, name: string) => vars[name] ?? '');
    const material = rule.material;
    const out: UpstreamTls = {
      context: () => material.context,
      servername: cn === '' ? undefined : cn,
      rejectUnauthorized: !rule.config.disableValidation,
    };
    if (this.onFailure) out.onFailure = this.onFailure;
    return out;
  }

  /** The client certificates in use (for the dashboard and expiry warnings). */
  certificates(): CertificateInfo[] {
    const out: CertificateInfo[] = [];
    for (const f of this.byConfig.values()) {
      const info = f.material.certificate(f.use);
      if (info) out.push(info);
    }
    return out;
  }

  close(): void {
    for (const f of this.byConfig.values()) f.material.close();
  }
}
