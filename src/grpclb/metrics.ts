import { Counter, Gauge } from 'prom-client';
import type { Metrics } from '../telemetry/metrics.js';

/**
 * The grpclb families, registered in the process's one registry (so `/metrics` shows them). No
 * label holds a client-chosen name: `code` is a gRPC status name and `kind` one of five counts, so
 * every family has a fixed number of series however many names clients send. Per-name state is
 * visible as a count only (`kgr_table_entries{table="grpclb names"}`).
 */
export interface GrpclbMetrics {
  readonly streams: Gauge<string>;
  readonly streamsEnded: Counter<'code'>;
  readonly serverLists: Counter<string>;
  readonly clientStats: Counter<string>;
  readonly clientCalls: Counter<'kind'>;
}

// One set per registry: a process (or a test) may start a balancer more than once on one Metrics.
const byMetrics = new WeakMap<Metrics, GrpclbMetrics>();

export function grpclbMetrics(metrics: Metrics): GrpclbMetrics {
  let m = byMetrics.get(metrics);
  if (m !== undefined) return m;
  const registers = [metrics.registry];
  m = {
    streams: new Gauge({ name: 'kgr_grpclb_streams', help: 'grpclb BalanceLoad streams open now.', registers }),
    streamsEnded: new Counter({
      name: 'kgr_grpclb_streams_ended_total',
      help: 'grpclb BalanceLoad streams ended, by the gRPC status the balancer ended them with (CANCELLED: the client went away).',
      labelNames: ['code'] as const,
      registers,
    }),
    serverLists: new Counter({ name: 'kgr_grpclb_server_lists_total', help: 'Server lists sent to grpclb clients (one per stream per change).', registers }),
    clientStats: new Counter({ name: 'kgr_grpclb_client_stats_total', help: 'ClientStats reports received from grpclb clients.', registers }),
    clientCalls: new Counter({
      name: 'kgr_grpclb_client_calls_total',
      help: 'Calls grpclb clients reported in ClientStats, by kind (started, finished, failed_to_send, known_received, dropped).',
      labelNames: ['kind'] as const,
      registers,
    }),
  };
  byMetrics.set(metrics, m);
  return m;
}
