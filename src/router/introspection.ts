/**
 * What a running router tells the admin server. The admin server only reads these snapshots;
 * nothing in it reaches into the data plane.
 */
export type EndpointState = 'connected' | 'connecting' | 'idle' | 'ejected' | 'draining' | 'failed';

export interface EndpointSnapshot {
  /** `ip:port` (`[v6]:port`). */
  address: string;
  weight: number;
  nodeName?: string;
  zone?: string;
  state: EndpointState;
  inFlight: number;
  requests: number;
  failures: number;
  /** Smoothed latency in milliseconds, when any stream has finished. */
  latencyMs?: number;
}

export interface ClientSnapshot {
  /** Bound id, e.g. `/#/io.l5d.k8s/default/grpc/echo-server`. */
  id: string;
  loadBalancer: string;
  /** The namer's answer for this client's address set. */
  addr: 'bound' | 'neg' | 'pending' | 'failed';
  addrError?: string;
  endpoints: EndpointSnapshot[];
}

export interface DtabSource {
  /** The router's own `dtab` key. */
  base: string;
  /** The live file (interpreter io.l5d.fs), when configured. */
  file?: {
    path: string;
    dtab: string;
    lastReload?: string; // ISO time of the last successful load
    lastError?: { message: string; line: number; column: number; at: string };
  };
  /** What binding uses now: file dtab ++ base. */
  effective: string;
}

export interface RouterSnapshot {
  label: string;
  servers: { ip: string; port: number }[];
  dtab: DtabSource;
  /** Logical names seen so far and the bound client ids each currently routes to. */
  services: { name: string; clients: string[] }[];
  clients: ClientSnapshot[];
}

/** The read-only face of a router that the admin server uses. */
export interface RouterView {
  readonly label: string;
  snapshot(): RouterSnapshot;
  /**
   * The delegation tree (Linkerd `/delegator.json` shape) for `path` through exactly `dtab` (text),
   * with this router's interpreter (its namers; a live dtab file is prepended as Linkerd's fs
   * interpreter does). Rejects with the dtab engine's syntax error for bad input.
   */
  delegate(path: string, dtab: string): Promise<unknown>;
}
