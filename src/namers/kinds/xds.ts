import { hostname } from 'node:os';
import type { OwnConfig } from '../../config/kind.js';
import type { NamerConfig } from '../../config/types.js';
import type { Field, Fields } from '../../config/yaml-reader.js';
import { DEFAULT_XDS_SERVER } from '../../xds/bootstrap.js';
import type { NamerKind } from '../kind.js';

/**
 * `io.l5d.xds`: the ids below its prefix → their endpoints as the control plane
 * (`kube-grpc-router control`) serves them over xDS (EDS). Given the prefix of the control plane's
 * namer (`prefix: /#/io.l5d.k8s`), it stands in for it and the dtab stays as it was.
 */
export interface XdsNamerConfig extends NamerConfig {
  /** Control-plane replicas, `host:port`, in the order tried; default $KGR_XDS_SERVER (comma-separated), else control-plane.yaml's Service. */
  servers?: string[];
  /** This router's node id on the control plane's dashboard; default $NODE_NAME, else the host name. */
  nodeId?: string;
  idSegments: number;
  idleTtlSecs: number;
  maxNames: number;
  initialFetchTimeoutMs: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
}

const XDS_DEFAULTS = {
  idSegments: 3,
  idleTtlSecs: 600,
  maxNames: 1000,
  // gRPC's and Envoy's initial fetch timeout: after it, a name never answered does not exist.
  initialFetchTimeoutMs: 15_000,
  reconnectMinMs: 1000,
  reconnectMaxMs: 30_000,
} as const;

/** `host:port` (IPv6 in brackets), or an error message. */
function checkServer(text: string): string | undefined {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d+)$/.exec(text);
  if (!m) return `"${text}" is not host:port`;
  const port = Number(m[2]);
  return port >= 1 && port <= 65535 ? undefined : `port ${m[2]} of "${text}" is not in 1..65535`;
}

function readServer(f: Field): string | undefined {
  const text = f.required('a control-plane address (host:port)')?.string('a control-plane address (host:port)');
  if (text === undefined) return undefined;
  const problem = checkServer(text);
  return problem === undefined ? text : f.fail(problem);
}

function readXds(f: Fields): OwnConfig<XdsNamerConfig, 'kind' | 'prefix'> {
  const out: OwnConfig<XdsNamerConfig, 'kind' | 'prefix'> = {
    idSegments: f.get('idSegments').int(1, 64) ?? XDS_DEFAULTS.idSegments,
    idleTtlSecs: f.get('idleTtlSecs').int(0, Number.MAX_SAFE_INTEGER) ?? XDS_DEFAULTS.idleTtlSecs,
    maxNames: f.get('maxNames').int(1, 1_000_000) ?? XDS_DEFAULTS.maxNames,
    initialFetchTimeoutMs: f.get('initialFetchTimeoutMs').int(1, 3_600_000) ?? XDS_DEFAULTS.initialFetchTimeoutMs,
    reconnectMinMs: f.get('reconnectMinMs').int(1, 3_600_000) ?? XDS_DEFAULTS.reconnectMinMs,
    reconnectMaxMs: f.get('reconnectMaxMs').int(1, 3_600_000) ?? XDS_DEFAULTS.reconnectMaxMs,
  };
  const servers = f.get('servers').list();
  if (servers?.length === 0) f.get('servers').expected('at least one control-plane address');
  if (servers) out.servers = servers.map((s) => readServer(s) ?? '');
  const nodeId = f.get('nodeId').string('a node id');
  if (nodeId !== undefined) out.nodeId = nodeId;
  return out;
}

export const xdsNamer: NamerKind<XdsNamerConfig> = {
  kind: 'io.l5d.xds',
  keys: ['servers', 'nodeId', 'idSegments', 'idleTtlSecs', 'maxNames', 'initialFetchTimeoutMs', 'reconnectMinMs', 'reconnectMaxMs'],
  defaults: XDS_DEFAULTS,
  read: readXds,
  async create(config, { prefix, env, log, metrics, key }) {
    const servers = config.servers ?? (env.KGR_XDS_SERVER || DEFAULT_XDS_SERVER).split(',').map((s) => s.trim()).filter(Boolean);
    for (const s of servers) {
      const problem = checkServer(s);
      if (problem) throw new Error(`namers: io.l5d.xds at ${prefix.show()}: servers: ${problem}${config.servers ? '' : ' (from KGR_XDS_SERVER)'}`);
    }
    // The subscriber loads grpc-js and the xDS protos, never @kubernetes/client-node.
    const { XdsNamer } = await import('../../xds/subscriber/xds-namer.js');
    return new XdsNamer({
      ...config,
      prefix,
      servers,
      nodeId: config.nodeId ?? (env.NODE_NAME || hostname()),
      idleTtlMs: config.idleTtlSecs * 1000,
      metrics,
      log,
      configKey: key,
    });
  },
};
