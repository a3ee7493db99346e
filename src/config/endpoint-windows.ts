import type { EndpointWindowsConfig } from './types.js';

// Apart from load.ts: the data plane sizes its process-wide budgets from these defaults before any
// config is read (routers built by hand), and load.ts reaches the data plane through the balancers.

/**
 * The process-wide `endpointWindows` budgets with every key at its default: 32 stalled answers of
 * 1 MiB each way, a quarter of the growth per pod; sixteen endpoint connections' full windows; as
 * many request bytes waiting to go to endpoints as the servers' maxBufferedBytes.
 * A fresh object each call.
 */
export function defaultEndpointWindowsConfig(): EndpointWindowsConfig {
  const growthBytes = 32 << 20;
  return { earlyCreditBytes: 32 << 20, growthBytes, growthBytesPerClient: perClientGrowth(growthBytes), connectionBytes: 32 << 20, queuedRequestBytes: 32 << 20 };
}

/** A pod's share of the stream windows' growth when only `growthBytes` is set: four pods are needed to spend it. */
export function perClientGrowth(growthBytes: number): number {
  return Math.floor(growthBytes / 4);
}
