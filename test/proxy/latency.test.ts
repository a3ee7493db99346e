import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { H2Stream } from '../../src/h2/stream.js';
import type { HeaderMap } from '../../src/proxy/headers.js';
import { ProxyCall, type CallEndpoint, type CallTarget, type RetryReason } from '../../src/proxy/call.js';
import { ProxyHarness, addr } from './harness.js';
import { startRawBackend, answerOk } from '../fixtures/grpc/raw-backend.js';
import { testClient, unary } from '../fixtures/grpc/test-service.js';

/** The harness's client, with every attempt's reported end recorded on the way to the balancer. */
class RecordingHarness extends ProxyHarness implements CallTarget {
  readonly ends: { status: number; latencyMs: number }[] = [];
  get id(): string { return this.client.id; }
  get maxAttempts(): number { return this.client.maxAttempts; }
  pick(exclude: CallEndpoint | undefined): CallEndpoint | undefined {
    return this.client.pick(exclude as Parameters<typeof this.client.pick>[0]);
  }
  began(endpoint: CallEndpoint): void {
    this.client.began(endpoint as Parameters<typeof this.client.began>[0]);
  }
  ended(endpoint: CallEndpoint, status: number, latencyMs: number): void {
    this.ends.push({ status, latencyMs });
    this.client.ended(endpoint as Parameters<typeof this.client.ended>[0], status, latencyMs);
  }
  retried(reason: RetryReason): void {
    this.client.retried(reason);
  }
  override handleStream(stream: H2Stream, headers: HeaderMap): void {
    new ProxyCall(stream, headers, this).dispatch(this);
  }
}

test("an attempt's latency (time to the endpoint's response headers) reaches the balancer; a cold connection's is no sample", async () => {
  // The endpoint takes ANSWER_MS to answer each call: the latency the balancer hears must cover it.
  const ANSWER_MS = 25;
  const backend = await startRawBackend((stream) => void setTimeout(() => answerOk(stream), ANSWER_MS));
  const proxy = await new RecordingHarness(addr(backend.port)).start();
  const client = testClient(proxy.target);
  try {
    const first = await unary(client, { message: 'x' });
    assert.equal(first.error, null, first.error?.details);
    // The first attempt waited for its connection's connect: not a clean sample.
    assert.deepEqual(proxy.ends, [{ status: 0, latencyMs: 0 }]);
    const t0 = performance.now();
    const second = await unary(client, { message: 'x' });
    const elapsed = performance.now() - t0;
    assert.equal(second.error, null, second.error?.details);
    const [, end] = proxy.ends;
    assert.equal(end?.status, 0);
    assert.ok(end!.latencyMs >= ANSWER_MS - 1 && end!.latencyMs <= elapsed, `latency ${end!.latencyMs} ms within [${ANSWER_MS}, ${elapsed}]`);
  } finally {
    client.close();
    await proxy.close();
    await backend.close();
  }
});
