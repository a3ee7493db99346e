import type { Registry } from '../telemetry/prom-client.js';

/**
 * Linkerd-style `/admin/metrics.json`: every series as one flat `scope/…/stat → number` entry, for
 * people whose tooling reads Linkerd 1's admin. Scopes come from labels in a fixed order
 * (`rt/<router>/server/<ip:port>/service/<name>/client/<id>/endpoint/<ip:port>`, `namer/<prefix>`),
 * remaining labels become `<label>/<value>` segments, and the stat is the family name without the
 * `kgr_` prefix and `_total` suffix. Histograms become `<stat>.count`, `.sum`, `.avg`, `.p50`,
 * `.p90`, `.p95`, `.p99` (seconds, estimated from the cumulative buckets).
 *
 * Example: `kgr_requests_total{router="h2",service="/svc/Echo",client="/$/inet/127.0.0.1/8080",grpc_code="OK"}`
 * is `rt/h2/service/svc/Echo/client/$/inet/127.0.0.1/8080/grpc_code/OK/requests`.
 *
 * Linkerd's own per-service and per-client counters are derived from it as well, so dashboards
 * built for Linkerd keep working: `rt/<router>/service/<name>/{requests,success,failures}` and
 * `rt/<router>/client/<id>/{requests,success,failures}`, where success means grpc-status OK (not
 * merely HTTP 200, the mistake Linkerd's default h2 classifier made).
 */

const SCOPE_LABELS: readonly (readonly [label: string, scope: string])[] = [
  ['router', 'rt'],
  ['server', 'server'],
  ['service', 'service'],
  ['client', 'client'],
  ['endpoint', 'endpoint'],
  ['namer', 'namer'],
];
const SCOPED = new Set(SCOPE_LABELS.map(([label]) => label));
const QUANTILES: readonly (readonly [string, number])[] = [
  ['p50', 0.5],
  ['p90', 0.9],
  ['p95', 0.95],
  ['p99', 0.99],
];

export type MetricKind = 'counter' | 'gauge' | 'stat';
export interface FlatMetric {
  name: string;
  kind: MetricKind;
  value: number;
}

type Labels = Record<string, string | number | undefined>;
/** A series as prom-client reports it at runtime (its typings lose `metricName` and the type strings). */
interface Series {
  value: number;
  labels: Labels;
  metricName?: string;
}

/** A label value as path segments: ids and logical names lose their leading slash and keep the rest. */
function segmentsOf(value: string): string {
  return value.startsWith('/') ? value.slice(1) : value;
}

function scopeOf(labels: Labels): string[] {
  const parts: string[] = [];
  for (const [label, scope] of SCOPE_LABELS) {
    const v = labels[label];
    if (v !== undefined && v !== '') parts.push(scope, segmentsOf(String(v)));
  }
  for (const key of Object.keys(labels).sort()) {
    if (SCOPED.has(key) || key === 'le' || key === 'quantile') continue;
    parts.push(key, String(labels[key]));
  }
  return parts;
}

function statName(family: string): string {
  let name = family.startsWith('kgr_') ? family.slice(4) : family;
  if (name.endsWith('_total')) name = name.slice(0, -6);
  // Default process metrics: `nodejs_heap_size_used_bytes` -> `nodejs/heap_size_used_bytes`.
  if (!family.startsWith('kgr_')) {
    const i = name.indexOf('_');
    if (i > 0) name = name.slice(0, i) + '/' + name.slice(i + 1);
  }
  return name;
}

/** The value at quantile `q` of a cumulative histogram, interpolating linearly inside a bucket. */
export function quantileFromBuckets(bounds: readonly number[], cumulative: readonly number[], q: number): number | undefined {
  const total = cumulative[cumulative.length - 1] ?? 0;
  if (total <= 0) return undefined;
  const rank = q * total;
  for (let i = 0; i < cumulative.length; i++) {
    if (cumulative[i]! >= rank) {
      const lower = i === 0 ? 0 : bounds[i - 1]!;
      const upper = bounds[i]!;
      // The +Inf bucket has no upper bound: answer its lower edge, the largest value we can vouch for.
      if (!Number.isFinite(upper)) return lower;
      const below = i === 0 ? 0 : cumulative[i - 1]!;
      const inBucket = cumulative[i]! - below;
      return inBucket <= 0 ? upper : lower + ((upper - lower) * (rank - below)) / inBucket;
    }
  }
  return bounds[bounds.length - 2];
}

interface HistogramAcc {
  scope: string[];
  stat: string;
  bounds: number[];
  cumulative: number[];
  sum: number;
  count: number;
}

/** Every series in the registry as flat Linkerd-style entries, sorted by name. */
export async function flatMetrics(registry: Registry): Promise<FlatMetric[]> {
  const out: FlatMetric[] = [];
  for (const family of await registry.getMetricsAsJSON()) {
    const stat = statName(family.name);
    const type = family.type as unknown as string;
    const values = family.values as Series[];
    if (type === 'histogram') {
      const byScope = new Map<string, HistogramAcc>();
      for (const v of values) {
        const labels = v.labels;
        const scope = scopeOf(labels);
        const key = scope.join('/');
        let acc = byScope.get(key);
        if (!acc) byScope.set(key, (acc = { scope, stat, bounds: [], cumulative: [], sum: 0, count: 0 }));
        if (v.metricName?.endsWith('_bucket')) {
          acc.bounds.push(labels.le === '+Inf' ? Infinity : Number(labels.le));
          acc.cumulative.push(v.value);
        } else if (v.metricName?.endsWith('_sum')) acc.sum = v.value;
        else if (v.metricName?.endsWith('_count')) acc.count = v.value;
      }
      for (const acc of byScope.values()) {
        const base = [...acc.scope, acc.stat].join('/');
        out.push({ name: `${base}.count`, kind: 'stat', value: acc.count });
        out.push({ name: `${base}.sum`, kind: 'stat', value: acc.sum });
        out.push({ name: `${base}.avg`, kind: 'stat', value: acc.count > 0 ? acc.sum / acc.count : 0 });
        for (const [suffix, q] of QUANTILES) {
          out.push({ name: `${base}.${suffix}`, kind: 'stat', value: quantileFromBuckets(acc.bounds, acc.cumulative, q) ?? 0 });
        }
      }
    } else if (type === 'summary') {
      for (const v of values) {
        const labels = v.labels;
        const base = [...scopeOf(labels), stat].join('/');
        if (v.metricName?.endsWith('_sum')) out.push({ name: `${base}.sum`, kind: 'stat', value: v.value });
        else if (v.metricName?.endsWith('_count')) out.push({ name: `${base}.count`, kind: 'stat', value: v.value });
        else if (labels.quantile !== undefined) out.push({ name: `${base}.p${Number(labels.quantile) * 100}`, kind: 'stat', value: v.value });
      }
    } else {
      if (family.name === 'kgr_requests_total') out.push(...linkerdRequestCounters(values));
      const kind: MetricKind = type === 'counter' ? 'counter' : 'gauge';
      for (const v of values) {
        out.push({ name: [...scopeOf(v.labels), stat].join('/'), kind, value: v.value });
      }
    }
  }
  out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return out;
}

/** `requests`, `success`, `failures` per router+service and router+client, summed over the rest. */
function linkerdRequestCounters(values: readonly Series[]): FlatMetric[] {
  const sums = new Map<string, { requests: number; success: number }>();
  const add = (scope: string, v: Series) => {
    let s = sums.get(scope);
    if (!s) sums.set(scope, (s = { requests: 0, success: 0 }));
    s.requests += v.value;
    if (v.labels.grpc_code === 'OK') s.success += v.value;
  };
  for (const v of values) {
    const rt = `rt/${v.labels.router ?? ''}`;
    if (v.labels.service !== undefined) add(`${rt}/service/${segmentsOf(String(v.labels.service))}`, v);
    if (v.labels.client !== undefined) add(`${rt}/client/${segmentsOf(String(v.labels.client))}`, v);
  }
  const out: FlatMetric[] = [];
  for (const [scope, s] of sums) {
    out.push({ name: `${scope}/requests`, kind: 'counter', value: s.requests });
    out.push({ name: `${scope}/success`, kind: 'counter', value: s.success });
    out.push({ name: `${scope}/failures`, kind: 'counter', value: s.requests - s.success });
  }
  return out;
}

/** `{name: value}` in name order (Linkerd's flat form). */
export function toFlatObject(metrics: readonly FlatMetric[]): Record<string, number> {
  const flat: Record<string, number> = {};
  for (const m of metrics) flat[m.name] = m.value;
  return flat;
}

export interface TreeNode {
  counter?: number;
  gauge?: number;
  stat?: number;
  [child: string]: TreeNode | number | undefined;
}

/**
 * Linkerd's `?tree=1` form: the flat names split on `/` into nested objects whose leaves carry
 * `counter`, `gauge` or `stat`. A node can be both a leaf and a scope (`rt/h2/requests` and
 * `rt/h2/requests/…`), so the value sits beside the children rather than replacing them.
 */
export function toTree(metrics: readonly FlatMetric[]): TreeNode {
  const root: TreeNode = {};
  for (const m of metrics) {
    let node = root;
    for (const segment of m.name.split('/')) {
      let child = node[segment];
      if (typeof child !== 'object') node[segment] = child = {};
      node = child;
    }
    node[m.kind] = m.value;
  }
  return root;
}

/** The subtree at `scope` (`rt/h2`), or undefined when there is none. */
export function subtree(tree: TreeNode, scope: string): TreeNode | undefined {
  let node: TreeNode | number | undefined = tree;
  for (const segment of scope.split('/').filter(Boolean)) {
    if (typeof node !== 'object') return undefined;
    node = node[segment];
  }
  return typeof node === 'object' ? node : undefined;
}
