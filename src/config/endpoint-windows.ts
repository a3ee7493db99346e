import type { EndpointWindowsConfig } from './types.js';

// Apart from load.ts: the data plane sizes its process-wide budgets from these defaults before any
// config is read (routers built by hand), and load.ts reaches the data plane through the balancers.

/**
 * The process-wide `endpointWindows` budgets with every key at its default: 32 stalled answers of
 * 1 MiB each way, a quarter of the growth per pod; sixteen endpoint connections' full windows; as
 * many request bytes waiting to go to endpoints as the servers' maxBufferedBytes, a quarter of them
 * per pod; 512 calls' 64 KiB kept for a retry, a quarter of them per pod. A fresh object each call.
 */
export function defaultEndpointWindowsConfig(): EndpointWindowsConfig {
  const growthBytes = 32 << 20;
  const queuedRequestBytes = 32 << 20;
  const replayBytes = 32 << 20;
  return {
    earlyCreditBytes: 32 << 20,
    growthBytes,
    growthBytesPerClient: perClientShare(growthBytes),
    connectionBytes: 32 << 20,
    queuedRequestBytes,
    queuedRequestBytesPerClient: perClientShare(queuedRequestBytes),
    replayBytes,
    replayBytesPerClient: perClientShare(replayBytes),
  };
}

/** A pod's share of a budget when only the budget is set: four pods are needed to spend it. */
export function perClientShare(bytes: number): number {
  return Math.floor(bytes / 4);
}
