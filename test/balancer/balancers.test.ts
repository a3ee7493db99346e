import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Endpoint } from '../../src/balancer/endpoint.js';
import { RoundRobin } from '../../src/balancer/balancers/round-robin.js';
import { P2C } from '../../src/balancer/balancers/p2c.js';
import { PeakEwma } from '../../src/balancer/balancers/ewma.js';
import { createFailureAccrual } from '../../src/balancer/accrual-registry.js';
import { CounterCell } from '../../src/telemetry/counter-cells.js';

const noMetrics = { success: new CounterCell({}), failure: new CounterCell({}) };
const upstream = { connectTimeoutMs: 1000, keepAliveIntervalMs: 0, keepAliveTimeoutMs: 1000 };

function endpoints(...weights: number[]): Endpoint[] {
  return weights.map(
    (weight, i) => new Endpoint({ host: '127.0.0.1', port: 10_000 + i, weight, meta: {} }, { kind: 'io.l5d.consecutiveFailures', failures: 2, backoff: { minMs: 50, maxMs: 100 } }, upstream, noMetrics),
  );
}

function tally(pick: () => Endpoint | undefined, n: number): Map<string, number> {
  const m = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const e = pick()!;
    m.set(e.key, (m.get(e.key) ?? 0) + 1);
  }
  return m;
}

test('roundRobin cycles exactly; smooth weighted round robin honours weights exactly', () => {
  const eq = endpoints(1, 1, 1);
  const rr = new RoundRobin();
  assert.deepEqual([...tally(() => rr.pick(eq, undefined), 300).values()], [100, 100, 100]);
  const w = endpoints(5, 1, 2);
  const wrr = new RoundRobin();
  const seq = Array.from({ length: 8 }, () => wrr.pick(w, undefined)!.key.slice(-1));
  assert.deepEqual(seq.filter((k) => k === '0').length, 5);
  assert.deepEqual(seq.filter((k) => k === '1').length, 1);
  // Interleaved, not bunched: the heavy endpoint never takes more than 3 in a row here.
  assert.ok(!seq.join('').includes('0000'), seq.join(''));
});

test('balancers skip an excluded, ejected or zero-weight endpoint, and fall back when nothing else is left', () => {
  const es = endpoints(1, 1, 0);
  const rr = new RoundRobin();
  for (let i = 0; i < 10; i++) assert.notEqual(rr.pick(es, es[0])!, es[0]);
  es[1]!.accrual.failure();
  es[1]!.accrual.failure(); // ejected
  for (let i = 0; i < 10; i++) assert.equal(rr.pick(es, undefined), es[0]);
  // Only the excluded one is usable: it is still the answer (a refused stream may succeed there).
  assert.equal(rr.pick(es, es[0]), es[1]!.accrual.ejected ? es[1] : es[0]);
  es[0]!.removed = true;
  es[1]!.removed = true;
  es[2]!.removed = true;
  assert.equal(rr.pick(es, undefined), undefined);
});

test('p2c prefers the endpoint with fewer streams in flight', () => {
  const es = endpoints(1, 1);
  es[0]!.inFlight = 10;
  const p2c = new P2C();
  for (let i = 0; i < 20; i++) assert.equal(p2c.pick(es, undefined), es[1]);
});

test('peak EWMA prefers the faster endpoint and jumps to a slow sample at once', () => {
  const es = endpoints(1, 1);
  es[0]!.observeLatency(50, 10_000);
  es[1]!.observeLatency(1, 10_000);
  const ewma = new PeakEwma();
  for (let i = 0; i < 20; i++) assert.equal(ewma.pick(es, undefined), es[1]);
  es[1]!.observeLatency(500, 10_000);
  assert.equal(es[1]!.ewmaMs, 500);
  for (let i = 0; i < 20; i++) assert.equal(ewma.pick(es, undefined), es[0]);
});

test('failure accrual: consecutive failures eject for a jittered backoff; a probe success revives, a probe failure ejects again', async () => {
  const fa = createFailureAccrual({ kind: 'io.l5d.consecutiveFailures', failures: 3, backoff: { minMs: 40, maxMs: 1000 } });
  assert.equal(fa.failure(), false);
  fa.success();
  assert.equal(fa.failure(), false);
  assert.equal(fa.failure(), false);
  // The backoff chosen, read from the ejection's end and the times just before and after it began:
  // the process may pause anywhere in between, so the bounds hold on a loaded machine too.
  const eject = (): [number, number] => {
    const before = Date.now();
    assert.equal(fa.failure(), true);
    const ejected = fa.ejected;
    const after = Date.now();
    if (after < fa.ejectedUntil) assert.equal(ejected, true);
    return [fa.ejectedUntil - after, fa.ejectedUntil - before];
  };
  const [firstAtLeast, firstAtMost] = eject();
  assert.ok(firstAtMost >= 20 && firstAtLeast <= 40, `backoff ${firstAtLeast}..${firstAtMost}`);
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(fa.ejected, false);
  // Probing: one failure is enough to eject again, for a longer backoff.
  const [secondAtLeast, secondAtMost] = eject();
  assert.ok(secondAtMost >= 40 && secondAtLeast <= 80, `backoff ${secondAtLeast}..${secondAtMost}`);
  await new Promise((r) => setTimeout(r, 90));
  fa.success();
  assert.equal(fa.ejected, false);
  assert.equal(fa.failure(), false, 'after a success it takes the full count again');
  const none = createFailureAccrual({ kind: 'none' });
  for (let i = 0; i < 100; i++) assert.equal(none.failure(), false);
});
