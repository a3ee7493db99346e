import { Counter, Gauge, Registry } from './prom-client.js';
import { registerProcessMetrics } from './process-metrics.js';
import { CellCounter } from './counter-cells.js';
import { CellGauge } from './gauge-cells.js';
import { CellHistogram } from './histogram-cells.js';

/**
 * Every metric family the router exports, in one registry. Rooms receive this object and
 * pre-resolve their labelled children once (per router, client, endpoint), never per stream.
 *
 * The families a stream touches are cell families (`CellCounter`, `CellGauge`, `CellHistogram`):
 * still the prom-client Counter/Gauge/Histogram they were, plus `cell(labels)`, a plain-number series
 * the hot path bumps without prom-client's per-call label hashing; cells reach the registry when it
 * is read. Resolve cells once, like children.
 *
 * Labels: `router` (router label), `server` (`ip:port`), `service` (logical name, `/svc/…`),
 * `client` (bound id), `endpoint` (`ip:port`; `metricSeries.endpoints` (client, endpoint) pairs per router), `grpc_code`
 * (`OK`, `UNAVAILABLE`, …), `namer` (prefix).
 */
export class Metrics {
  readonly registry = new Registry();

  // Data plane: streams as the router's clients see them.
  readonly requests = new CellCounter({
    name: 'kgr_requests_total',
    help: 'Streams finished, by logical service, bound client and gRPC status (from trailers or trailers-only headers).',
    labelNames: ['router', 'service', 'client', 'grpc_code'] as const,
    registers: [this.registry],
  });
  readonly requestDuration = new CellHistogram({
    name: 'kgr_request_duration_seconds',
    help: 'Stream duration from request headers to end of response, seconds.',
    labelNames: ['router', 'service', 'client'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly streamsInFlight = new CellGauge({
    name: 'kgr_streams_in_flight',
    help: 'Streams currently open through the router, per bound client.',
    labelNames: ['router', 'client'] as const,
    registers: [this.registry],
  });
  readonly retries = new CellCounter({
    name: 'kgr_retries_total',
    help: 'Transparent retries of streams no endpoint processed, by reason (connect: the stream could not be opened; refused: REFUSED_STREAM or above a GOAWAY last-stream-id; unsent: its connection failed before it left).',
    labelNames: ['router', 'client', 'reason'] as const,
    registers: [this.registry],
  });
  readonly bytes = new CellCounter({
    name: 'kgr_bytes_total',
    help: 'DATA bytes proxied, direction request (client to endpoint) or response.',
    labelNames: ['router', 'client', 'direction'] as const,
    registers: [this.registry],
  });
  /** Size readers of the tables keyed by names (see `watchTable`), read at every scrape. */
  readonly #tables = new Map<string, { labels: Record<string, string>; size: () => number }>();
  readonly tableEntries = new Gauge({
    name: 'kgr_table_entries',
    help: 'Entries in each table keyed by names that requests can create (bindings, clients, watches, DNS names), by router or namer; each is bounded by a config key.',
    labelNames: ['router', 'namer', 'table'] as const,
    registers: [this.registry],
    collect: () => {
      for (const t of this.#tables.values()) this.tableEntries.set(t.labels, t.size());
    },
  });
  /** Readers of each server's buffered request bytes (see `watchServerBuffer`), read at every scrape. */
  readonly #serverBuffers = new Map<string, { labels: Record<string, string>; bytes: () => number }>();
  readonly serverBufferedBytes = new Gauge({
    name: 'kgr_server_buffered_bytes',
    help: 'Bytes a server holds for its clients: request DATA not yet taken by endpoints, and answers waiting in client sockets (bounded by servers[].maxBufferedBytes, and per client address by maxBufferedBytesPerClient: past either, connections holding more than 16 KiB are not read).',
    labelNames: ['router', 'server'] as const,
    registers: [this.registry],
    collect: () => {
      for (const b of this.#serverBuffers.values()) this.serverBufferedBytes.set(b.labels, b.bytes());
    },
  });
  /** Reader of the process's endpoint-answer budgets (see `watchEndpointBudgets`), read at every scrape. */
  #endpointBudgets: (() => EndpointBudgets) | undefined;
  #refusedSeen = { windowGrowth: 0, connectionWindows: 0 };
  #queuedRequestsSpentSeen = { all: 0, client: 0 };
  readonly endpointWindowBytes = new Gauge({
    name: 'kgr_endpoint_window_bytes',
    help: 'What endpoints\' answers may run ahead of clients, over the process, by budget (window_growth: stream windows grown past their first 16 KiB as clients took answers, at most endpointWindows.growthBytes; early_credit: answer bytes given back to endpoint connections\' windows before their clients took them, at most endpointWindows.earlyCreditBytes; connection_windows: endpoint connections\' windows grown past their first 65,535 octets as answers flowed, at most endpointWindows.connectionBytes; queued_requests: request bytes passed on towards endpoints and not yet written to their sockets, past endpointWindows.queuedRequestBytes a connection holding more than 16 KiB takes no more, past a client address\'s endpointWindows.queuedRequestBytesPerClient its calls wait).',
    labelNames: ['budget'] as const,
    registers: [this.registry],
    collect: () => {
      const b = this.#endpointBudgets?.();
      if (b === undefined) return;
      this.endpointWindowBytes.set({ budget: 'window_growth' }, b.windowGrowth);
      this.endpointWindowBytes.set({ budget: 'early_credit' }, b.earlyCredit);
      this.endpointWindowBytes.set({ budget: 'connection_windows' }, b.connectionWindows);
      this.endpointWindowBytes.set({ budget: 'queued_requests' }, b.queuedRequests);
      // The limit's trips, before limitsReached is read (registered after this gauge).
      const seen = this.#queuedRequestsSpentSeen;
      const trips = b.queuedRequestsSpent - seen.all;
      const clientTrips = b.queuedRequestsClientSpent - seen.client;
      seen.all = b.queuedRequestsSpent;
      seen.client = b.queuedRequestsClientSpent;
      if (trips > 0) this.limitsReached.inc({ limit: 'endpointWindows.queuedRequestBytes' }, trips);
      if (clientTrips > 0) this.limitsReached.inc({ limit: 'endpointWindows.queuedRequestBytesPerClient' }, clientTrips);
    },
  });
  readonly endpointWindowGrowthRefused = new Counter({
    name: 'kgr_endpoint_window_growth_refused_total',
    help: 'Times a window towards an endpoint could not grow though half of it went back (once per half window), by budget: window_growth (a stream whose client took half its window; endpointWindows.growthBytes, or its client\'s growthBytesPerClient, was spent: its endpoint then sends 16 KiB per round trip), connection_windows (an endpoint connection; endpointWindows.connectionBytes was spent: its streams together then get what it already has per round trip).',
    labelNames: ['budget'] as const,
    registers: [this.registry],
    collect: () => {
      const b = this.#endpointBudgets?.();
      if (b === undefined) return;
      const seen = this.#refusedSeen;
      // Created at 0 so a dashboard sees both series before the first refusal.
      this.endpointWindowGrowthRefused.inc({ budget: 'window_growth' }, b.windowGrowthRefused - seen.windowGrowth);
      this.endpointWindowGrowthRefused.inc({ budget: 'connection_windows' }, b.connectionWindowsRefused - seen.connectionWindows);
      this.#refusedSeen = { windowGrowth: b.windowGrowthRefused, connectionWindows: b.connectionWindowsRefused };
    },
  });
  /** Reader of the process's replay budget (see `watchReplayBudget`), read at every scrape. */
  #replayBudget: (() => ReplayBudgetReading) | undefined;
  #replayRefusedSeen = { refused: 0, shareRefused: 0 };
  readonly replayBytes = new Gauge({
    name: 'kgr_replay_bytes',
    help: 'Request bytes kept for transparent retries after they were passed on to an endpoint, over the process (at most endpointWindows.replayBytes, and of it endpointWindows.replayBytesPerClient per client address).',
    registers: [this.registry],
    collect: () => {
      const b = this.#replayBudget?.();
      if (b !== undefined) this.replayBytes.set(b.held);
    },
  });
  readonly replayRefused = new Counter({
    name: 'kgr_replay_refused_total',
    help: 'Calls that stopped keeping their request for a retry because the process\'s replay budget (endpointWindows.replayBytes), or their client\'s share of it (replayBytesPerClient), was spent (they are served, not retried).',
    registers: [this.registry],
    collect: () => {
      const b = this.#replayBudget?.();
      if (b === undefined) return;
      const seen = this.#replayRefusedSeen;
      const refused = b.refused - seen.refused;
      const byShare = b.shareRefused - seen.shareRefused;
      this.replayRefused.inc(refused);
      this.#replayRefusedSeen = { refused: b.refused, shareRefused: b.shareRefused };
      // The limits' trips, before limitsReached is read (registered after this counter).
      if (refused > byShare) this.limitsReached.inc({ limit: 'endpointWindows.replayBytes' }, refused - byShare);
      if (byShare > 0) this.limitsReached.inc({ limit: 'endpointWindows.replayBytesPerClient' }, byShare);
    },
  });
  readonly accessLogDropped = new CellCounter({
    name: 'kgr_access_log_dropped_total',
    help: 'Access log lines dropped because the log fell more than 8 MiB behind (or its file failed), per router.',
    labelNames: ['router'] as const,
    registers: [this.registry],
  });
  readonly limitsReached = new Counter({
    name: 'kgr_limits_reached_total',
    help: 'Times one of the bounds on what clients may make the router hold or do was reached, by router or namer and the config key that sets it (README, Limits, says what each does when it trips): e.g. bindingCache.paths (an idle binding was evicted), metricSeries.routes (a name was counted under "(overflow)"), maxWatches and watchesPerSecond (a name refused or kept pending), client.maxConnectionsPerEndpoint (a stream waited for a slot), endpointWindows.queuedRequestBytes (endpoint connections took no more), servers[].maxBufferedBytesPerClient (a client was not read), xds.maxStreamsPerClient, grpclb.maxConnections, admin.maxDelegationsPerClient (refused).',
    labelNames: ['router', 'namer', 'limit'] as const,
    registers: [this.registry],
  });
  readonly adminConnections = new Gauge({
    name: 'kgr_admin_connections',
    help: 'Open connections to the admin server and its probes listener (admin.probes), each bounded by admin.maxConnections, and per client address by admin.maxConnectionsPerClient.',
    registers: [this.registry],
  });
  readonly routerErrors = new CellCounter({
    name: 'kgr_router_errors_total',
    help: 'Streams the router answered itself (no route, no endpoints, bad l5d-dtab, loop, binding timeout, …).',
    labelNames: ['router', 'reason'] as const,
    registers: [this.registry],
  });

  // Connections.
  readonly serverConnections = new Gauge({
    name: 'kgr_server_connections',
    help: 'Open client connections per server.',
    labelNames: ['router', 'server'] as const,
    registers: [this.registry],
  });
  readonly serverConnectionsClosed = new Counter({
    name: 'kgr_server_connections_closed_total',
    help: 'Client connections ended, by reason (peer, error, protocol_error, preface_timeout, idle, unresponsive, shutdown).',
    labelNames: ['router', 'server', 'reason'] as const,
    registers: [this.registry],
  });
  readonly serverStreams = new CellCounter({
    name: 'kgr_server_streams_total',
    help: 'Streams accepted per server.',
    labelNames: ['router', 'server'] as const,
    registers: [this.registry],
  });
  readonly clientConnections = new Gauge({
    name: 'kgr_client_connections',
    help: 'Open HTTP/2 sessions towards endpoints, per bound client.',
    labelNames: ['router', 'client'] as const,
    registers: [this.registry],
  });
  readonly clientConnects = new Counter({
    name: 'kgr_client_connects_total',
    help: 'Connection attempts towards endpoints, by result (success, failure).',
    labelNames: ['router', 'client', 'result'] as const,
    registers: [this.registry],
  });

  readonly tlsHandshakeFailures = new Counter({
    name: 'kgr_tls_handshake_failures_total',
    help: 'TLS handshakes that failed, by side (server: a client of the router; client: towards an endpoint) and reason (expired, unknown_authority, name_mismatch, no_client_certificate, certificate_rejected, no_h2, protocol, timeout).',
    labelNames: ['router', 'side', 'reason'] as const,
    registers: [this.registry],
  });

  // grpclb. No label holds a client-chosen name: `code` is a gRPC status name and `kind` one of
  // five counts; per-name state shows as a count only (kgr_table_entries{table="grpclb names"}).
  readonly grpclbStreams = new Gauge({ name: 'kgr_grpclb_streams', help: 'grpclb BalanceLoad streams open now.', registers: [this.registry] });
  readonly grpclbStreamsEnded = new Counter({
    name: 'kgr_grpclb_streams_ended_total',
    help: 'grpclb BalanceLoad streams ended, by the gRPC status the balancer ended them with (CANCELLED: the client went away).',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  readonly grpclbServerLists = new Counter({ name: 'kgr_grpclb_server_lists_total', help: 'Server lists sent to grpclb clients (one per stream per change).', registers: [this.registry] });
  readonly grpclbClientStats = new Counter({ name: 'kgr_grpclb_client_stats_total', help: 'ClientStats reports received from grpclb clients.', registers: [this.registry] });
  readonly grpclbClientCalls = new Counter({
    name: 'kgr_grpclb_client_calls_total',
    help: 'Calls grpclb clients reported in ClientStats, by kind (started, finished, failed_to_send, known_received, dropped).',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  // The xDS control plane. Labels are a resource type (listener, route, cluster, endpoint) or a gRPC
  // status name, never a client-chosen name; per-name state is kgr_table_entries{table="xds names"}.
  readonly xdsStreams = new Gauge({ name: 'kgr_xds_streams', help: 'xDS ADS streams open now.', registers: [this.registry] });
  readonly xdsStreamsEnded = new Counter({
    name: 'kgr_xds_streams_ended_total',
    help: 'xDS ADS streams ended, by the gRPC status the control plane ended them with (CANCELLED: the client went away).',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  readonly xdsResponses = new Counter({ name: 'kgr_xds_responses_total', help: 'DiscoveryResponses sent, by resource type.', labelNames: ['type'] as const, registers: [this.registry] });
  readonly xdsNamesParsed = new Counter({ name: 'kgr_xds_resource_names_parsed_total', help: 'Resource names parsed from DiscoveryRequests (a name the stream already follows is not parsed again).', registers: [this.registry] });
  readonly xdsAcks = new Counter({ name: 'kgr_xds_acks_total', help: 'DiscoveryResponses clients accepted (ACK), by resource type.', labelNames: ['type'] as const, registers: [this.registry] });
  readonly xdsNacks = new Counter({ name: 'kgr_xds_nacks_total', help: 'DiscoveryResponses clients rejected (NACK, logged with node id and error detail), by resource type.', labelNames: ['type'] as const, registers: [this.registry] });

  // Endpoints.
  readonly endpoints = new Gauge({
    name: 'kgr_endpoints',
    help: 'Endpoints per bound client by state (available, ejected, draining).',
    labelNames: ['router', 'client', 'state'] as const,
    registers: [this.registry],
  });
  readonly endpointRequests = new CellCounter({
    name: 'kgr_endpoint_requests_total',
    help: 'Streams sent to each endpoint, by result (success: grpc OK; failure: anything else); a client\'s endpoints past the router\'s metricSeries.endpoints count under endpoint="(overflow)".',
    labelNames: ['router', 'client', 'endpoint', 'result'] as const,
    registers: [this.registry],
  });
  readonly ejections = new Counter({
    name: 'kgr_endpoint_ejections_total',
    help: 'Endpoints removed from balancing by failure accrual.',
    labelNames: ['router', 'client'] as const,
    registers: [this.registry],
  });

  // Discovery and dtabs.
  readonly namerEvents = new Counter({
    name: 'kgr_namer_watch_events_total',
    help: 'Watch events received by namers, by event type.',
    labelNames: ['namer', 'type'] as const,
    registers: [this.registry],
  });
  readonly namerReconnects = new Counter({
    name: 'kgr_namer_watch_reconnects_total',
    help: 'Times a namer re-established a watch (after close, error or 410 Gone).',
    labelNames: ['namer', 'reason'] as const,
    registers: [this.registry],
  });
  readonly namerLastSync = new Gauge({
    name: 'kgr_namer_last_sync_timestamp_seconds',
    help: 'Unix time of the last successful list or watch event per namer.',
    labelNames: ['namer'] as const,
    registers: [this.registry],
  });
  readonly dtabReloads = new Counter({
    name: 'kgr_dtab_reloads_total',
    help: 'Live dtab file reloads by result (success, failure).',
    labelNames: ['router', 'result'] as const,
    registers: [this.registry],
  });

  /** Report a table's size as `kgr_table_entries{…labels}`; the returned function stops (and removes the series). */
  watchTable(labels: { router?: string; namer?: string; table: string }, size: () => number): () => void {
    const key = JSON.stringify([labels.router, labels.namer, labels.table]);
    const entry = { labels: labels as Record<string, string>, size };
    this.#tables.set(key, entry);
    return () => {
      if (this.#tables.get(key) !== entry) return;
      this.#tables.delete(key);
      this.tableEntries.remove(entry.labels);
    };
  }

  /** Read the process's replay budget (src/proxy/replay-budget.ts) at every scrape (one reader; the last one set wins). */
  watchReplayBudget(read: () => ReplayBudgetReading): () => void {
    this.#replayBudget = read;
    return () => {
      if (this.#replayBudget === read) this.#replayBudget = undefined;
    };
  }

  /** Read the process's endpoint-answer budgets at every scrape (one reader; the last one set wins). */
  watchEndpointBudgets(read: () => EndpointBudgets): () => void {
    this.#endpointBudgets = read;
    return () => {
      if (this.#endpointBudgets === read) this.#endpointBudgets = undefined;
    };
  }

  /** Reports `bytes()` as the server's buffered request bytes at every scrape, until the returned function is called. */
  watchServerBuffer(labels: { router: string; server: string }, bytes: () => number): () => void {
    const key = JSON.stringify([labels.router, labels.server]);
    const entry = { labels, bytes };
    this.#serverBuffers.set(key, entry);
    return () => {
      if (this.#serverBuffers.get(key) !== entry) return;
      this.#serverBuffers.delete(key);
      this.serverBufferedBytes.remove(entry.labels);
    };
  }

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics ?? true) registerProcessMetrics(this.registry);
  }
}

/** The process-wide budgets of endpoints' answers (src/proxy/upstream.ts). */
export interface EndpointBudgets {
  windowGrowth: number;
  windowGrowthRefused: number;
  earlyCredit: number;
  connectionWindows: number;
  connectionWindowsRefused: number;
  queuedRequests: number;
  /** Times queuedRequests went past endpointWindows.queuedRequestBytes. */
  queuedRequestsSpent: number;
  /** Times a client address's part of them went past endpointWindows.queuedRequestBytesPerClient. */
  queuedRequestsClientSpent: number;
}

/** What the process's replay budget holds and has refused (src/proxy/replay-budget.ts), for /metrics. */
export interface ReplayBudgetReading {
  held: number;
  /** Calls refused, by the budget or by their client's share. */
  refused: number;
  /** Of them, by their client's share. */
  shareRefused: number;
}
