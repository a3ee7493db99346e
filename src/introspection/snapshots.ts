/**
 * What a running router, its clients and endpoints, and its dtab source tell the admin server.
 * Plain data on the lowest floor, so the rooms that produce them (balancer, config, router) and
 * the admin that reads them depend on it and not on each other.
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
  /** TLS towards the endpoints: the name their certificates must carry, and connections that resumed a session. */
  tls?: { name: string; validated: boolean; resumedSessions: number };
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
  /** Certificates the router presents (TLS servers, client certificates), with the days they have left. */
  certificates?: { use: string; file: string; subject: string; notAfter: string; daysLeft: number }[];
}
