import assert from 'node:assert/strict';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus text exposition parsed back: each family's type and every sample, in order. */
export function parsePrometheus(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const typeLine = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (typeLine) {
      types.set(typeLine[1]!, typeLine[2]!);
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, '$1');
    samples.push({ name: m[1]!, labels, value: m[3] === '+Inf' ? Infinity : Number(m[3]) });
  }
  return { types, samples };
}

/** The samples named `name` whose labels include every one of `labels`. */
export function select(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

/** The one sample named `name` with `labels` (fails when there is none or more than one). */
export function one(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = select(samples, name, labels);
  assert.equal(found.length, 1, `exactly one ${name}${JSON.stringify(labels)} (found ${found.length})`);
  return found[0]!.value;
}

/**
 * A histogram series' buckets from the text: bounds in order (le parsed, +Inf last), cumulative
 * counts, sum and count; checks the exposition's own invariants on the way.
 */
export function histogramOf(samples: readonly Sample[], family: string, labels: Record<string, string>) {
  const buckets = select(samples, `${family}_bucket`, labels).map((s) => ({ le: s.labels.le === '+Inf' ? Infinity : Number(s.labels.le), value: s.value }));
  assert.ok(buckets.length > 0, `${family}${JSON.stringify(labels)} has buckets`);
  for (let i = 1; i < buckets.length; i++) {
    assert.ok(buckets[i]!.le > buckets[i - 1]!.le, 'le increases');
    assert.ok(buckets[i]!.value >= buckets[i - 1]!.value, 'buckets are cumulative');
  }
  const count = one(samples, `${family}_count`, labels);
  const sum = one(samples, `${family}_sum`, labels);
  assert.equal(buckets.at(-1)!.le, Infinity, 'the last bucket is +Inf');
  assert.equal(buckets.at(-1)!.value, count, '+Inf equals the count');
  return { bounds: buckets.map((b) => b.le), cumulative: buckets.map((b) => b.value), sum, count };
}
