import { createRequire } from 'node:module';
import type * as prom from 'prom-client';

/**
 * prom-client's metric types, loaded one module each rather than through its index. The index also
 * loads its Pushgateway (https, zlib) and every default metric, one of which loads
 * `@opentelemetry/api`: 7 MB more RSS in the router under load (88 MB against 81 MB, Node 24), for
 * nothing the router uses. Process metrics are our own (process-metrics.ts). The package has no
 * exports map, so these files are as public as its index; the types are the index's.
 */
const require = createRequire(import.meta.url);

export const Counter: typeof prom.Counter = require('prom-client/lib/counter.js');
export const Gauge: typeof prom.Gauge = require('prom-client/lib/gauge.js');
export const Histogram: typeof prom.Histogram = require('prom-client/lib/histogram.js');
export const Registry: typeof prom.Registry = require('prom-client/lib/registry.js');
/** prom-client's default registry, where a metric goes that names no `registers`. */
export const globalRegistry: prom.Registry = (Registry as unknown as { globalRegistry: prom.Registry }).globalRegistry;

export type Counter<T extends string = string> = prom.Counter<T>;
export type Gauge<T extends string = string> = prom.Gauge<T>;
export type Histogram<T extends string = string> = prom.Histogram<T>;
export type Registry = prom.Registry;
export type { CounterConfiguration, GaugeConfiguration, HistogramConfiguration } from 'prom-client';
