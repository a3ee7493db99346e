import type { MetricSeriesConfig } from './types.js';

// Apart from load.ts: a balancer client built without a router (tests, the bench's harness) sizes
// its endpoint-label budget from these, and load.ts reaches the balancers through their registry.

/** A router's `metricSeries` with every key at its default. A fresh object each call. */
export function defaultMetricSeriesConfig(): MetricSeriesConfig {
  return { clients: 500, routes: 1000, endpoints: 2000 };
}
