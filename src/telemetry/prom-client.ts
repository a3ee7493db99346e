import type * as prom from 'prom-client';
import { required } from '../util/required.js';

/**
 * prom-client's metric types, loaded one module each rather than through its index. The index also
 * loads its Pushgateway (https, zlib) and every default metric, one of which loads
 * `@opentelemetry/api`: 7 MB more RSS in the router under load (88 MB against 81 MB, Node 24), for
 * nothing the router uses. Process metrics are our own (process-metrics.ts). The package has no
 * exports map, so these files are as public as its index; the types are the index's.
 */
export const Counter = required<typeof prom.Counter>('prom-client/lib/counter.js');
export const Gauge = required<typeof prom.Gauge>('prom-client/lib/gauge.js');
export const Histogram = required<typeof prom.Histogram>('prom-client/lib/histogram.js');
export const Registry = required<typeof prom.Registry>('prom-client/lib/registry.js');
/** prom-client's default registry, where a metric goes that names no `registers`. */
export const globalRegistry: prom.Registry = (Registry as unknown as { globalRegistry: prom.Registry }).globalRegistry;

export type Counter<T extends string = string> = prom.Counter<T>;
export type Gauge<T extends string = string> = prom.Gauge<T>;
export type Histogram<T extends string = string> = prom.Histogram<T>;
export type Registry = prom.Registry;
export type { CounterConfiguration, GaugeConfiguration, HistogramConfiguration } from 'prom-client';
