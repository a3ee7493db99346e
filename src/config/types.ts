/**
 * The typed, validated configuration every room is built from. `src/config/` turns YAML (Linkerd 1
 * keys) into this shape, filling the defaults named here; nothing downstream re-validates.
 */
export interface Config {
  admin: AdminConfig;
  namers: NamerConfig[];
  routers: RouterConfig[];
  /** Keep serving this long after SIGTERM before draining (Kubernetes removes the pod meanwhile). Default 5000. */
  shutdownDelayMs: number;
  /** In-flight streams get this long to finish after GOAWAY; the rest are cancelled. Default 25000. */
  shutdownGraceMs: number;
  /** The grpclb balancer (`grpc.lb.v1.LoadBalancer`), when the `grpclb` key is present. */
  grpclb?: GrpclbConfig;
  /** What the process holds between clients and endpoints: answers ahead of clients, requests on their way or kept for retries. */
  endpointWindows: EndpointWindowsConfig;
}

/**
 * The process-wide budgets of what the router holds between clients and endpoints
 * (src/proxy/upstream.ts): answers ahead of clients, requests on their way to endpoints, and
 * requests kept until endpoints answer. Every router's calls share them, as they share the
 * process's memory.
 */
export interface EndpointWindowsConfig {
  /** Answer bytes given back to endpoint connections' windows before clients took them. Default 32 MiB. */
  earlyCreditBytes: number;
  /** Stream windows grown past their first 16 KiB as clients take answers. Default 32 MiB. */
  growthBytes: number;
  /** Of that growth, what the calls of one client address may hold. Default 8 MiB. */
  growthBytesPerClient: number;
  /** Endpoint connections' windows grown past the protocol's first 65,535 octets (up to 2 MiB each) as answers flow. Default 32 MiB. */
  connectionBytes: number;
  /** Request bytes passed on towards endpoints and not yet written to their sockets. Default 32 MiB. */
  queuedRequestBytes: number;
  /** Of them, what the calls of one client address may have queued. Default a quarter of queuedRequestBytes. */
  queuedRequestBytesPerClient: number;
  /** Request bytes calls keep, once passed on, for a transparent retry until their endpoint answers. Default 32 MiB. */
  replayBytes: number;
  /** Of them, what the calls of one client address may keep. Default a quarter of replayBytes. */
  replayBytesPerClient: number;
}

/**
 * grpclb lookaside balancing: clients with the `grpclb` policy ask for a name and get server lists
 * bound through a router's dtab (see src/grpclb/).
 */
export interface GrpclbConfig {
  ip: string; // default 127.0.0.1
  port: number; // default 4150
  /** The router whose dtab (base and live file) and dstPrefix bind the names. Default: the first router. */
  router: string;
  /** How often clients report ClientStats; 0 asks for none. Default 10000. */
  clientStatsIntervalMs: number;
  /** Distinct names with live state (a binding and its watches) at once. Default 1000. */
  maxNames: number;
  /** BalanceLoad streams open at once. Default 10000. */
  maxStreams: number;
  /** Of them, from one client address (one pod), so that one pod cannot take them all. Default 100. */
  maxStreamsPerClient: number;
  /** Connections open at once; more are closed as they arrive (counted). Default 2000. */
  maxConnections: number;
  /** Of them, from one client address (one pod). Default 100. */
  maxConnectionsPerClient: number;
}

export interface AdminConfig {
  ip: string; // default 127.0.0.1: the dashboard, delegator and config are for whoever is inside the pod (kubectl port-forward)
  port: number; // default 9990
  /** A second listener serving only the probes (and /metrics if asked), for the kubelet on the pod IP; none by default. */
  probes?: AdminProbesConfig;
  controlEnabled: boolean; // default false: POST /admin/shutdown, log level changes
  /** Open connections at most, to the admin server and to its probes listener each; more are closed as they arrive (a pod can reach what listens on the pod IP). Default 1000. */
  maxConnections: number;
  /** Of them, from one client address at most, so one pod cannot take them all from the kubelet's probes. Default 16. */
  maxConnectionsPerClient: number;
  /** Nodes a `/delegator.json` tree may have; a larger one is a 400. Default 250 (DELEGATION_MAX_NODES). */
  maxDelegationNodes?: number;
  /** Bytes, about, a `/delegator.json` answer may take; a larger one is a 400. Default 256 KiB (DELEGATION_MAX_BYTES). */
  maxDelegationBytes?: number;
  /** Delegations in flight at most (each may wait 2 s for namers); more are a 429. Default 4. */
  maxDelegations?: number;
  /** Delegations in flight from one client address at most; more are a 429. Default 1. */
  maxDelegationsPerClient?: number;
}

/** `admin.probes`: GET/HEAD /ready and /live, /metrics with `metrics`; every other path a 404. Bounded as the admin server is (its maxConnections keys, its timeouts). */
export interface AdminProbesConfig {
  ip: string; // default 0.0.0.0: the kubelet probes the pod IP
  port: number; // default 9991
  /** Serve /metrics (Prometheus text) here too, for a scraper on the cluster network. Default false. */
  metrics: boolean;
}

/**
 * One `namers[]` entry: what every kind has, plus its kind's own keys, defaults filled (each kind's
 * shape and defaults are in its file under src/namers/kinds/).
 */
export interface NamerConfig {
  kind: string;
  /** The full path it answers under, e.g. `/#/io.l5d.k8s`. */
  prefix: string;
  [key: string]: unknown;
}

export interface RouterConfig {
  protocol: 'h2';
  label: string; // default 'h2'
  servers: ServerConfig[];
  /** Tried in order until one identifies the request. Default: [{kind: io.l5d.header.path, segments: 1}]. */
  identifier: IdentifierConfig[];
  dstPrefix: string; // default '/svc'
  /** The router's base dtab text (Linkerd `dtab`). Default ''. */
  dtab: string;
  interpreter: InterpreterConfig;
  bindingTimeoutMs: number; // default 10000
  client: ClientConfig;
  service: ServiceConfig;
  /** Access log: a file path, `-` for stdout, or absent for none (Linkerd `h2AccessLog`). */
  h2AccessLog?: string;
  bindingCache: BindingCacheConfig;
  metricSeries: MetricSeriesConfig;
}

/**
 * What the names clients send may hold, and for how long (Linkerd 1's `bindingCache` key, with its
 * `paths`, `clients` and `idleTtlSecs`; `transientIdleTtlSecs` is ours). Every table keyed by a
 * client-supplied name is bounded by these.
 */
export interface BindingCacheConfig {
  /** (logical name, request-local dtab) bindings kept, with their namer watches. Default 1000. */
  paths: number;
  /** Bound clients kept, with their endpoints and connection pools. Default 1000. */
  clients: number;
  /**
   * Of those, how many one client address (a pod) may have calls in flight on (or waiting to bind)
   * at once: a client with calls in flight is never evicted, so without a share one pod's
   * long-lived calls, each to its own id through `l5d-dtab`, took every slot. Default a quarter of
   * `clients` (250): four pods are needed to take every slot.
   */
  clientsPerClient: number;
  /** A binding or client routed by the router's own dtab is released this long after its last use. Default 600000 (10 min). */
  idleTtlMs: number;
  /** …and one only an `l5d-dtab`/`l5d-ctx-dtab` override reaches, or a name that does not exist. Default 10000. */
  transientIdleTtlMs: number;
}

/** Distinct label values with series of their own; past these, names share `(overflow)` series. */
export interface MetricSeriesConfig {
  /** Distinct `client` label values (bound ids). Default 500. */
  clients: number;
  /** Distinct (service, client) pairs with request series of their own. Default 1000. */
  routes: number;
  /**
   * Distinct (client, endpoint) pairs with `kgr_endpoint_requests_total` series of their own, over
   * the router; later endpoints count under `endpoint="(overflow)"`. Default 2000.
   */
  endpoints: number;
}

export interface ServerConfig {
  ip: string; // default 127.0.0.1 (Linkerd's loopback default); the DaemonSet sets 0.0.0.0
  port: number; // default 4140
  clearContext: boolean; // default false
  maxConcurrentStreamsPerConnection: number; // default 1000
  /**
   * Calls in flight on this server over all its connections (Linkerd 1's key); one more is answered
   * RESOURCE_EXHAUSTED (plain HTTP: 503) at once. Default 20000.
   */
  maxConcurrentRequests: number;
  /** More `via` hops than this fail fast as a proxy loop. Default 10. */
  maxCallDepth: number;
  /** Largest request header block accepted, bytes. Default 16384. */
  maxHeaderListBytes: number;
  /**
   * A client connection with no open stream for this long is sent GOAWAY(NO_ERROR) and closed (gRPC
   * clients reconnect on their next call); 0 = never. Default 300000 (5 min).
   */
  idleTimeoutMs: number;
  /** A connection that has not sent the HTTP/2 preface and SETTINGS within this long is closed; 0 = never. Default 10000. */
  prefaceTimeoutMs: number;
  /** A connection with nothing read for this long is sent a PING; 0 = never. Default 10000. */
  keepAliveIntervalMs: number;
  /** A PING not acknowledged within this long closes the connection. Default 5000. */
  keepAliveTimeoutMs: number;
  /**
   * A client that takes none of an answer for this long: the stream whose window it keeps shut is
   * reset (CANCEL); a connection whose socket it stops reading is closed. Also: a client not read
   * because of maxBufferedBytes, none of whose request bytes an endpoint took for this long,
   * loses the calls holding them (CANCEL). 0 = never. Default 300000 (5 min).
   */
  sendTimeoutMs: number;
  /**
   * While maxBufferedBytes is spent: a client that takes none of an answer for this long loses
   * that call (CANCEL), as with sendTimeoutMs. 0 = never. Default 10000.
   */
  sendTimeoutUnderPressureMs: number;
  /** CONTINUATION frames allowed after one HEADERS (CVE-2024-27316); more: GOAWAY ENHANCE_YOUR_CALM. Default 32. */
  maxContinuationFrames: number;
  /** Streams a client may reset before they were answered, per second (CVE-2023-44487 rapid reset). Default 1000. */
  maxResetStreamsPerSecond: number;
  /** PING, SETTINGS and empty frames a client may send per second (RFC 9113 §10.5). Defaults 100, 100, 1000. */
  maxPingsPerSecond: number;
  maxSettingsPerSecond: number;
  maxEmptyFramesPerSecond: number;
  /**
   * Bytes a client may send ahead of the router forwarding them (its connection receive window; a
   * stream's window is this, at most 1 MiB), and the soft bound on bytes queued towards it. Default 1 MiB.
   */
  maxBufferedBytesPerConnection: number;
  /**
   * Bytes the server holds for all its clients together: request DATA read and not yet taken by
   * endpoints, and answers waiting in client sockets. Past it, a connection holding more than
   * 16 KiB is not read (nor sent more DATA) until it holds less: many pods sending to endpoints
   * that do not read, or not reading their answers, cannot take the router's memory, and pods
   * whose bytes flow (they hold next to nothing) are still served. Default 32 MiB.
   */
  maxBufferedBytes: number;
  /**
   * The same bound for one client address (one pod), over its connections: past it, its connections
   * holding more than 16 KiB are not read until it holds less. One pod's connections sending to an
   * endpoint that does not read (64 of 1 MiB) cannot spend maxBufferedBytes alone and leave every
   * other pod's large calls read 16 KiB at a time. At most maxBufferedBytes; default a quarter of it.
   */
  maxBufferedBytesPerClient: number;
  /**
   * Calls in flight from one client address (one pod), over its connections; more are answered
   * RESOURCE_EXHAUSTED at once, so that one pod cannot take every slot of maxConcurrentRequests. Default 5000.
   */
  maxConcurrentRequestsPerClient: number;
  /**
   * Request header bytes (name, value and 32 per field) of the calls in flight, counted for each
   * call's whole life: a call keeps its headers until an endpoint answers, for retries (and request
   * trailers it keeps count too). Past it, a new call is answered
   * RESOURCE_EXHAUSTED. Without it, maxConcurrentRequests calls of maxHeaderListBytes each (320 MiB
   * at the defaults) were one pod's to fill. Default 32 MiB.
   */
  maxHeaderBytesInFlight: number;
  /** The same, for the calls of one client address (one pod), so that one pod cannot take it all. Default 8 MiB. */
  maxHeaderBytesInFlightPerClient: number;
  /** Connections open at once from one client address (one pod); more are closed as they arrive. Default 64. */
  maxConnectionsPerClient: number;
  /** Client connections open at once; more are closed as they arrive (counted). Default 10000. */
  maxConnections: number;
  /** Serve TLS (ALPN h2 only) instead of h2c. Linkerd 1's `servers[].tls`. */
  tls?: ServerTlsConfig;
}

/** Linkerd 1's server `tls` block; paths are absolute. Certificate and key are reloaded when their files change. */
export interface ServerTlsConfig {
  certPath: string;
  keyPath: string;
  /** CA bundle that client certificates are checked against (asked for when set). */
  caCertPath?: string;
  /** Refuse clients without a certificate from `caCertPath`. Default false. */
  requireClientAuth: boolean;
}

/** Linkerd 1's client `tls` block (router → endpoint); paths are absolute. */
export interface ClientTlsConfig {
  /** The name the endpoint's certificate must carry, and the SNI sent; `{variables}` of the prefix fill it. */
  commonName?: string;
  /** CA certificates trusted for the endpoint's certificate; empty: the system's. */
  trustCerts: string[];
  /** The router's client certificate, for endpoints that require one (mutual TLS). */
  clientAuth?: { certPath: string; keyPath: string };
  /** Accept any certificate the endpoint shows (encryption without authentication). Default false. */
  disableValidation: boolean;
}

/** One `io.l5d.static` client config: bound ids matching `prefix` (`*`, `{variable}` segments) get its `tls`. */
export interface ClientStaticConfig {
  prefix: string;
  tls?: ClientTlsConfig;
}

/** One `identifier` entry: its kind and that kind's own keys (see src/identify/kinds/). */
export interface IdentifierConfig {
  kind: string;
  [key: string]: unknown;
}

export type InterpreterConfig = { kind: 'default' } | { kind: 'io.l5d.fs'; dtabFile: string };

/** `client.loadBalancer`: its kind (src/balancer/balancers/), and what every kind shares. */
export interface LoadBalancerConfig {
  kind: string;
  /** How fast peak-EWMA latency decays towards new samples (every endpoint keeps it; ewma reads it). Default 10000. */
  decayTimeMs: number;
  [key: string]: unknown;
}

export interface ClientConfig {
  /** TLS towards every client's endpoints (Linkerd `kind: io.l5d.global` with `tls`). */
  tls?: ClientTlsConfig;
  /** `kind: io.l5d.static`: TLS by prefix of bound ids; the last matching config wins, else `tls`. */
  configs?: ClientStaticConfig[];
  loadBalancer: LoadBalancerConfig; // default roundRobin
  failureAccrual: FailureAccrualConfig;
  /** Transparent retries of streams the endpoint never processed. Default 3 attempts in all. */
  maxAttempts: number;
  /** HTTP/2 PING interval towards endpoints; 0 = off (default). Never below 10 s. */
  keepAliveIntervalMs: number;
  keepAliveTimeoutMs: number; // default 20000
  /** Connect timeout per endpoint. Default 3000. */
  connectTimeoutMs: number;
  /**
   * HTTP/2 connections open to one endpoint at most (more open as its MAX_CONCURRENT_STREAMS
   * fills); past them, streams wait for a slot. Default 256.
   */
  maxConnectionsPerEndpoint: number;
  /**
   * Streams the router puts on one connection to an endpoint before it opens another (while under
   * maxConnectionsPerEndpoint; past them the open ones take more, up to the endpoint's own limit).
   * 0, the default: the endpoint's MAX_CONCURRENT_STREAMS alone.
   */
  maxStreamsPerConnection: number;
  /**
   * An endpoint that reads none of the request bytes its connection's socket holds for this long
   * (gone, wedged): the connection is closed and its calls fail UNAVAILABLE. 0 = never. Default 60000.
   */
  sendTimeoutMs: number;
  /**
   * RST_STREAMs the router may send on one endpoint connection in a burst (0: no bound), refilled at
   * resetsRefillPerSecond; past it the connection takes no new stream and closes once its streams
   * end. Calls cancelled by every pod of the node share the connection, and servers end one that
   * carries too many resets (nghttp2, so Node.js and nghttpx: 1000, refilled at 33 a second).
   * Default 200, refilled at 33 a second.
   */
  maxResetsPerConnection: number;
  resetsRefillPerSecond: number;
}

/** `client.failureAccrual`: its kind and that kind's own keys (see src/balancer/accrual/). */
export interface FailureAccrualConfig {
  kind: string;
  [key: string]: unknown;
}

export interface ServiceConfig {
  /** Whole-call deadline applied when the client sent no `grpc-timeout` (or a longer one). */
  totalTimeoutMs?: number;
}
